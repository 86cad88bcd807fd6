"""The hub hands each order's states forward only: older or repeated versions are dropped."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson

from shared.bus import InProcessEventBus
from shared.contracts import OrderEvent, OrderStatus, user_channel
from websocket_service.hub import Hub, OrderVersions

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def _event(order_id: int, version: int, status: OrderStatus) -> OrderEvent:
    return OrderEvent(
        user_id=7,
        order_id=order_id,
        version=version,
        broker_account_id=3,
        client_order_id=f"c-{order_id}",
        symbol="INFY",
        side="BUY",
        order_type="MARKET",
        product="MIS",
        validity="DAY",
        status=status,
        quantity=Decimal(1),
        filled_quantity=Decimal(0),
        origin="manual",
        created_at=NOW,
        ts=NOW,
    )


class Receiver:
    """Stands in for a connection subscribed to the private orders channel."""

    user_id = 7
    session_id = "s"

    def __init__(self) -> None:
        self.channels = {"orders"}
        self.frames: list[dict] = []

    def offer(self, text: str, private: bool) -> None:
        self.frames.append(orjson.loads(text))


def test_a_late_pending_after_a_denial_is_dropped_and_a_duplicate_too():
    hub = Hub(InProcessEventBus())
    conn = Receiver()
    hub.add(conn)  # type: ignore[arg-type]
    channel = user_channel(7)

    hub.dispatch(channel, _event(1, 2, OrderStatus.DENIED))
    hub.dispatch(channel, _event(1, 1, OrderStatus.PENDING))  # published late
    hub.dispatch(channel, _event(1, 2, OrderStatus.DENIED))  # delivered twice
    hub.dispatch(channel, _event(2, 1, OrderStatus.PENDING))

    got = [(f["data"]["order_id"], f["data"]["status"]) for f in conn.frames]
    assert got == [(1, "DENIED"), (2, "PENDING")]
    assert hub.order_versions.dropped == 2


def test_versions_remembered_are_bounded_and_the_oldest_forgotten_first():
    versions = OrderVersions(capacity=2)
    assert versions.is_newer(_event(1, 1, OrderStatus.PENDING))
    assert versions.is_newer(_event(2, 1, OrderStatus.PENDING))
    assert versions.is_newer(_event(1, 2, OrderStatus.OPEN))  # 1 is now the newest seen
    assert versions.is_newer(_event(3, 1, OrderStatus.PENDING))  # forgets 2
    assert not versions.is_newer(_event(1, 2, OrderStatus.OPEN))
    assert versions.is_newer(_event(2, 1, OrderStatus.PENDING))  # forgotten: passed on
    assert not versions.is_newer(_event(3, 1, OrderStatus.PENDING))
