"""Order events are complete and ordered: every state of an order, forward only, with a version."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from itertools import pairwise

import pytest

from order_processor.domain.states import ALLOWED_TRANSITIONS
from shared.contracts import AccountEvent, OrderEvent, OrderStatus, TickMsg, user_channel
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import R, trading_api


@pytest.fixture(scope="module", params=["sqlite", "postgres", "pgbouncer"])
async def tapi(request, tmp_path_factory):
    settings = settings_for(request.param, request, tmp_path_factory.mktemp("order-events"))
    async with trading_api(settings) as api:
        yield api


def _reachable(before: OrderStatus, after: OrderStatus) -> bool:
    """Whether the state machine leads from ``before`` to ``after`` (a later state)."""
    frontier, seen = [before], {before}
    while frontier:
        for nxt in ALLOWED_TRANSITIONS.get(frontier.pop(), ()):
            if nxt == after:
                return True
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return False


async def _collect(subscription, into: list[OrderEvent]) -> None:
    async for _, message in subscription:
        if isinstance(message, OrderEvent):
            into.append(message)


async def test_each_order_is_seen_from_pending_forward_in_a_burst_of_mixed_outcomes(tapi):
    trader = await tapi.trader()
    account = await tapi.account(trader, "10000000")
    await tapi.set_limits(
        trader.id, max_orders_per_second=10_000, disabled_checks=["duplicate_position"]
    )
    await tapi.tick("SOLUSDT", 150.0)
    subscription = await tapi.bus.subscribe([user_channel(trader.id)], maxsize=100_000)
    seen: list[OrderEvent] = []
    reader = asyncio.create_task(_collect(subscription, seen))

    # Half the orders are denied at once (far outside the price band), half rest OPEN.
    bodies = [
        {"order_type": "LIMIT", "limit_price": "100" if i % 2 else "149", "quantity": "1"}
        for i in range(40)
    ]
    responses = await asyncio.gather(*(tapi.place(trader, account, **b) for b in bodies))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    await tapi.tick("SOLUSDT", 148.0)  # fills the resting ones
    for _ in range(100):
        await asyncio.sleep(0.02)
        finals = {e.order_id: e.status for e in seen}
        if len(finals) == 40 and all(
            s in (OrderStatus.DENIED, OrderStatus.FILLED) for s in finals.values()
        ):
            break
    reader.cancel()
    await subscription.close()

    by_order: dict[int, list[OrderEvent]] = {}
    for event in seen:
        by_order.setdefault(event.order_id, []).append(event)
    assert len(by_order) == 40
    for order_id, events in by_order.items():
        statuses = [e.status for e in events]
        assert statuses[0] is OrderStatus.PENDING, (order_id, statuses)
        versions = [e.version for e in events]
        assert versions == sorted(set(versions)), (order_id, versions)
        for before, after in pairwise(statuses):
            assert before == after or _reachable(before, after), (order_id, statuses)
    denied = [evs for evs in by_order.values() if evs[-1].status is OrderStatus.DENIED]
    assert len(denied) == 20


async def test_an_order_event_carries_the_whole_order_and_the_rest_version(tapi):
    trader = await tapi.trader()
    account = await tapi.account(trader)
    await tapi.tick("SOLUSDT", 150.0)
    subscription = await tapi.bus.subscribe([user_channel(trader.id)])
    seen: list[OrderEvent] = []
    reader = asyncio.create_task(_collect(subscription, seen))

    r = await tapi.place(
        trader, account, order_type="LIMIT", limit_price="149.5", quantity="2", stop="140"
    )
    for _ in range(50):
        await asyncio.sleep(0.01)
        if seen and seen[-1].status is OrderStatus.OPEN:
            break
    reader.cancel()
    await subscription.close()

    rest = (await tapi.client.get(f"{R}/orders/{r.json()['id']}", headers=trader.headers)).json()
    last = seen[-1]
    assert last.version == rest["version"] > 1
    assert (last.broker_account_id, last.order_type, last.product, last.validity) == (
        account,
        "LIMIT",
        rest["product"],
        rest["validity"],
    )
    wire = last.model_dump(mode="json")  # as the bus and WebSocket clients carry it
    assert wire["limit_price"] == rest["limit_price"] == "149.5"
    assert wire["stop_price"] == rest["stop_price"] == "140"
    assert last.origin == "manual"


async def test_the_account_event_follows_the_marks_with_free_margin_and_only_when_they_move(tapi):
    trader = await tapi.trader()
    account = await tapi.account(trader, "100000")
    await tapi.tick("SOLUSDT", 150.0)
    r = await tapi.place(trader, account, quantity="10")
    await tapi.tick("SOLUSDT", 150.0)  # fills at 150
    assert (await tapi.client.get(f"{R}/orders/{r.json()['id']}", headers=trader.headers)).json()[
        "status"
    ] == "FILLED"
    await tapi.engine.mark_accounts()  # the marks as they are now count as sent
    subscription = await tapi.bus.subscribe([user_channel(trader.id)])
    seen: list[AccountEvent] = []

    async def collect() -> None:
        async for _, message in subscription:
            if isinstance(message, AccountEvent) and message.broker_account_id == account:
                seen.append(message)

    reader = asyncio.create_task(collect())
    await tapi.engine.on_tick(TickMsg(symbol="SOLUSDT", ts=tapi.clock.now(), price=160.0, qty=1.0))
    await tapi.engine.mark_accounts()
    await tapi.engine.mark_accounts()  # nothing moved since: nothing sent
    await asyncio.sleep(0.05)
    reader.cancel()
    await subscription.close()

    assert len(seen) == 1
    event = seen[0]
    summary = (
        await tapi.client.get(f"{R}/accounts/{account}/summary", headers=trader.headers)
    ).json()
    assert event.unrealised_pnl == Decimal("100")  # 10 x (160 - 150)
    assert event.free_margin == event.equity - event.margin_used
    assert event.free_margin == Decimal(summary["free_margin"])
    assert event.open_positions == 1


async def test_close_position_closes_exactly_the_open_quantity_and_is_the_owners_alone(tapi):
    trader = await tapi.trader()
    other = await tapi.trader()
    account = await tapi.account(trader)
    await tapi.tick("SOLUSDT", 150.0)
    await tapi.place(trader, account, quantity="3.5")
    await tapi.tick("SOLUSDT", 150.0)
    body = {"broker_account_id": account, "symbol": "SOLUSDT", "product": "MIS"}

    stranger = await tapi.client.post(f"{R}/positions/close", headers=other.headers, json=body)
    closed = await tapi.client.post(f"{R}/positions/close", headers=trader.headers, json=body)
    again = await tapi.client.post(f"{R}/positions/close", headers=trader.headers, json=body)

    assert stranger.status_code == 404, stranger.text
    assert closed.status_code == 201, closed.text
    assert (closed.json()["side"], closed.json()["quantity"]) == ("SELL", "3.5")
    assert again.status_code == 409 and again.json()["code"] == "nothing_to_exit", again.text
    await tapi.tick("SOLUSDT", 151.0)
    positions = await tapi.client.get(
        f"{R}/positions", params={"broker_account_id": account}, headers=trader.headers
    )
    assert positions.json()["items"] == []
