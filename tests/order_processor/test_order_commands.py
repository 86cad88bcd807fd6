"""Cancels and changes are requests the order processor carries out: PENDING_CANCEL and
PENDING_UPDATE first, then the outcome, every state on the bus in order, on SQLite,
PostgreSQL and PgBouncer."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from order_processor.api import OrderDesk, reader_for
from order_processor.domain.paper import FillModel
from shared.contracts import OrderEvent, OrderStatus, user_channel
from shared.db import transaction
from shared.models import OutboxBatch
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import R, trading_api

S = OrderStatus


@pytest.fixture(scope="module", params=["sqlite", "postgres", "pgbouncer"])
async def tapi(request, tmp_path_factory):
    settings = settings_for(request.param, request, tmp_path_factory.mktemp("order-commands"))
    async with trading_api(settings) as api:
        yield api


async def _trader(api):
    trader = await api.trader()
    account = await api.account(trader, "1000000")
    await api.set_limits(trader.id, disabled_checks=["duplicate_position"])
    await api.tick("SOLUSDT", 150.0)
    return trader, account


async def _resting(api, trader, account, price="149", quantity="1"):
    r = await api.place(trader, account, order_type="LIMIT", limit_price=price, quantity=quantity)
    assert r.json()["status"] == "OPEN", r.text
    return r.json()


class Events:
    """The order events of one user's channel, as a client would see them."""

    def __init__(self, subscription):
        self.subscription = subscription
        self.seen: list[OrderEvent] = []
        self.task = asyncio.create_task(self._collect())

    async def _collect(self):
        async for _, message in self.subscription:
            if isinstance(message, OrderEvent):
                self.seen.append(message)

    def of(self, order_id: int) -> list[tuple[OrderStatus, int]]:
        return [(e.status, e.version) for e in self.seen if e.order_id == order_id]

    async def until(self, order_id: int, status: OrderStatus) -> list[tuple[OrderStatus, int]]:
        for _ in range(250):
            if any(s is status for s, _ in self.of(order_id)):
                break
            await asyncio.sleep(0.02)
        return self.of(order_id)

    async def close(self):
        self.task.cancel()
        await self.subscription.close()


@pytest.fixture
async def events(tapi):
    made: list[Events] = []

    async def watch(user_id: int) -> Events:
        made.append(Events(await tapi.bus.subscribe([user_channel(user_id)], maxsize=10_000)))
        return made[-1]

    yield watch
    for e in made:
        await e.close()


async def test_cancel_is_pending_cancel_then_cancelled_in_version_order(tapi, events):
    trader, account = await _trader(tapi)
    order = await _resting(tapi, trader, account)
    watch = await events(trader.id)

    r = await tapi.client.post(f"{R}/orders/{order['id']}/cancel", headers=trader.headers)

    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["reason_code"]) == ("CANCELLED", "cancelled")
    seen = await watch.until(order["id"], S.CANCELLED)
    assert [s for s, _ in seen] == [S.PENDING_CANCEL, S.CANCELLED]
    assert [v for _, v in seen] == [order["version"] + 1, order["version"] + 2]
    assert r.json()["version"] == order["version"] + 2
    # Through the transactional outbox: each event has its id, no batch is left behind.
    ids = [e.event_id for e in watch.seen if e.order_id == order["id"]]
    assert all(ids) and len(set(ids)) == len(ids)
    for _ in range(100):  # the engine's relay retires sent batches every quarter second
        async with tapi.ctx.sessions() as session:
            left = await session.scalar(select(func.count()).select_from(OutboxBatch))
        if left == 0:
            break
        await asyncio.sleep(0.02)
    assert left == 0
    assert tapi.engine.relay.relayed == 0  # nothing was left for the relay to publish
    await tapi.tick("SOLUSDT", 140.0)
    fills = await tapi.client.get(f"{R}/fills", headers=trader.headers)
    assert fills.json()["total"] == 0  # gone from the paper book too


async def test_change_is_pending_update_then_applied_and_what_fills(tapi, events):
    trader, account = await _trader(tapi)
    order = await _resting(tapi, trader, account, price="145")
    watch = await events(trader.id)

    r = await tapi.client.patch(
        f"{R}/orders/{order['id']}", headers=trader.headers, json={"limit_price": "149.5"}
    )

    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["limit_price"]) == ("OPEN", "149.5")
    seen = await watch.until(order["id"], S.OPEN)
    assert [s for s, _ in seen] == [S.PENDING_UPDATE, S.OPEN]
    await tapi.tick("SOLUSDT", 149.0)  # below the new limit, above the old one
    after = (await tapi.client.get(f"{R}/orders/{order['id']}", headers=trader.headers)).json()
    assert (after["status"], after["average_price"]) == ("FILLED", "149")


async def test_change_denied_by_the_processor_is_422_and_leaves_the_order_as_it_was(tapi, events):
    trader, account = await _trader(tapi)
    order = await _resting(tapi, trader, account)
    watch = await events(trader.id)

    r = await tapi.client.patch(
        f"{R}/orders/{order['id']}", headers=trader.headers, json={"quantity": "50000"}
    )

    assert r.status_code == 422, r.text
    assert r.json()["code"] == "risk_denied"
    seen = await watch.until(order["id"], S.OPEN)
    assert [s for s, _ in seen] == [S.PENDING_UPDATE, S.OPEN]
    after = (await tapi.client.get(f"{R}/orders/{order['id']}", headers=trader.headers)).json()
    assert (after["status"], after["quantity"], after["reason_code"]) == (
        "OPEN",
        "1",
        "change_denied",
    )
    assert any(
        d["message"].startswith("modify:") and not d["approved"] for d in after["risk_decisions"]
    )
    # The order still works on its old terms.
    await tapi.tick("SOLUSDT", 148.0)
    filled = (await tapi.client.get(f"{R}/orders/{order['id']}", headers=trader.headers)).json()
    assert (filled["status"], filled["filled_quantity"]) == ("FILLED", "1")


async def test_one_change_at_a_time_and_no_change_of_a_cancelling_order(tapi):
    trader, account = await _trader(tapi)
    order = await _resting(tapi, trader, account)
    async with transaction(tapi.ctx.sessions) as session:
        desk = OrderDesk(
            session, trader.id, now=tapi.clock.now(), reader=reader_for(tapi.tickstore)
        )
        await desk.modify(order["id"], quantity=Decimal(2), limit_price=None, trigger_price=None)
    # Stored, not yet carried out (its command was never sent).

    again = await tapi.client.patch(
        f"{R}/orders/{order['id']}", headers=trader.headers, json={"quantity": "3"}
    )
    assert again.status_code == 409
    assert again.json()["code"] == "change_pending"

    cancel = await tapi.client.post(f"{R}/orders/{order['id']}/cancel", headers=trader.headers)
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["status"] == "CANCELLED"
    change = await tapi.client.patch(
        f"{R}/orders/{order['id']}", headers=trader.headers, json={"quantity": "3"}
    )
    assert change.status_code == 409
    assert change.json()["code"] == "order_not_open"


async def test_lost_cancel_command_is_carried_out_by_the_sweeper(tapi):
    trader, account = await _trader(tapi)
    order = await _resting(tapi, trader, account)
    async with transaction(tapi.ctx.sessions) as session:
        desk = OrderDesk(
            session, trader.id, now=tapi.clock.now(), reader=reader_for(tapi.tickstore)
        )
        row, command = await desk.cancel(order["id"])
        assert row.status == S.PENDING_CANCEL
    # The command never reached the stream: the order waits, still in the paper book.
    assert command.order_id == order["id"]
    assert any(o.order_id == order["id"] for _, o in tapi.engine.broker.working_keys())

    await tapi.engine.sweep()  # too early: the request is younger than pending_after_s
    mid = (await tapi.client.get(f"{R}/orders/{order['id']}", headers=trader.headers)).json()
    assert mid["status"] == "PENDING_CANCEL"
    options = tapi.engine.options
    tapi.engine.options = replace(options, pending_after_s=0.0)
    try:
        await tapi.engine.sweep()
    finally:
        tapi.engine.options = options

    after = (await tapi.client.get(f"{R}/orders/{order['id']}", headers=trader.headers)).json()
    assert after["status"] == "CANCELLED"
    assert not any(o.order_id == order["id"] for _, o in tapi.engine.broker.working_keys())


async def test_partial_fill_during_a_cancel_keeps_pending_cancel_and_books_the_fill(tapi):
    trader, account = await _trader(tapi)
    order = await _resting(tapi, trader, account, quantity="10")
    async with transaction(tapi.ctx.sessions) as session:
        desk = OrderDesk(
            session, trader.id, now=tapi.clock.now(), reader=reader_for(tapi.tickstore)
        )
        await desk.cancel(order["id"])

    matcher = tapi.engine.broker.matcher
    matcher.fill_model = FillModel(participation=Decimal("0.5"))
    try:
        await tapi.tick("SOLUSDT", 148.0, qty=8.0)  # the paper book still holds it: 4 fill
    finally:
        matcher.fill_model = FillModel()

    mid = (await tapi.client.get(f"{R}/orders/{order['id']}", headers=trader.headers)).json()
    assert (mid["status"], mid["filled_quantity"]) == ("PENDING_CANCEL", "4")
    r = await tapi.client.post(f"{R}/orders/{order['id']}/cancel", headers=trader.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["filled_quantity"]) == ("CANCELLED", "4")
    positions = await tapi.client.get(f"{R}/positions", headers=trader.headers)
    assert [p["quantity"] for p in positions.json()["items"]] == ["4"]


async def test_halt_cancels_through_the_processor_with_the_halt_as_reason(tapi, events):
    trader, account = await _trader(tapi)
    orders = [await _resting(tapi, trader, account, price=p) for p in ("149", "148")]
    watch = await events(trader.id)

    r = await tapi.client.post(f"{R}/trading/halt", headers=trader.headers, json={})
    assert r.status_code == 200, r.text

    for order in orders:
        seen = await watch.until(order["id"], S.CANCELLED)
        assert [s for s, _ in seen] == [S.PENDING_CANCEL, S.CANCELLED]
        after = (await tapi.client.get(f"{R}/orders/{order['id']}", headers=trader.headers)).json()
        assert (after["status"], after["reason_code"]) == ("CANCELLED", "trading_halted")
    resume = await tapi.client.post(f"{R}/trading/resume", headers=trader.headers)
    assert resume.status_code == 200


async def test_cancel_of_another_users_order_is_404_and_changes_nothing(tapi):
    trader, account = await _trader(tapi)
    order = await _resting(tapi, trader, account)
    other = await tapi.trader()

    cancel = await tapi.client.post(f"{R}/orders/{order['id']}/cancel", headers=other.headers)
    change = await tapi.client.patch(
        f"{R}/orders/{order['id']}", headers=other.headers, json={"quantity": "2"}
    )

    assert (cancel.status_code, change.status_code) == (404, 404)
    after = (await tapi.client.get(f"{R}/orders/{order['id']}", headers=trader.headers)).json()
    assert (after["status"], after["version"]) == ("OPEN", order["version"])
