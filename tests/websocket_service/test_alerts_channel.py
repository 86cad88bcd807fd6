"""Alerts reach the user's private ``alerts`` channel, and only that user's connections."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson

from shared.alerts import AlertKind, AlertMessage, Severity, alerts_channel
from shared.bus import InProcessEventBus
from websocket_service.channels import parse
from websocket_service.hub import Hub

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


class Receiver:
    session_id = "s"

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.channels = {"alerts"}
        self.frames: list[str] = []

    def offer(self, text: str, private: bool) -> None:
        assert private
        self.frames.append(text)

    async def stop(self) -> None:
        return None


def _alert(user_id: int) -> AlertMessage:
    return AlertMessage(
        alert_id="a1",
        user_id=user_id,
        alert_kind=AlertKind.ORDER_FILLED,
        severity=Severity.INFO,
        title="Filled",
        body="BUY 1 INFY",
        created_at=NOW,
    )


def test_alerts_is_a_private_channel():
    assert parse("alerts").private


async def test_an_alert_published_on_the_bus_reaches_its_users_alerts_channel():
    bus = InProcessEventBus()
    hub = Hub(bus)
    mine, other = Receiver(7), Receiver(8)
    for conn in (mine, other):
        hub.add(conn)  # type: ignore[arg-type]
        hub.subscribe(conn, "alerts")  # type: ignore[arg-type]
    await hub.start()
    try:
        await bus.publish(alerts_channel(7), _alert(7))
        for _ in range(50):
            if mine.frames:
                break
            await asyncio.sleep(0.01)
    finally:
        await hub.stop()
    [frame] = mine.frames
    assert orjson.loads(frame)["channel"] == "alerts"
    assert orjson.loads(frame)["data"]["alert_kind"] == "order_filled"
    assert other.frames == []
