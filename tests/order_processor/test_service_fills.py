"""The order engine on a real database: fills and the ledger, reconciliation, restarts, exits."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from order_processor.brokers import BrokerWrapper
from order_processor.config import ProcessorOptions
from order_processor.repositories import FillRepository, LedgerRepository, PositionRepository
from order_processor.service import OrderService
from shared.clock import EventClock
from shared.contracts import GROUP_ORDER_PROCESSOR, intent_stream
from shared.db import transaction
from shared.models import BrokerAccount, Fill
from shared.models import Order as OrderRow
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import ist, processor_env

NO_LIMITS = {
    "disabled_checks": [
        "order_rate",
        "duplicate_position",
        "max_position_size",
        "sector_concentration",
        "capital_reserve",
        "max_open_positions",
    ]
}


@pytest.fixture(scope="module")
def settings(request, tmp_path_factory):
    return settings_for("sqlite", request, tmp_path_factory.mktemp("engine"))


@pytest.fixture
def own_settings(request, tmp_path):
    """A database of the test's own: the engine it starts is the only one, owning every
    account partition (the module's engine would share them with it)."""
    return settings_for("sqlite", request, tmp_path)


@pytest.fixture(scope="module")
async def env(settings):
    async with processor_env(settings, options=ProcessorOptions(read_block_ms=20)) as built:
        yield built


async def _limits(env, user_id, limits):
    from shared.models import UserRiskLimits

    async with transaction(env.sessions) as session:
        await session.merge(UserRiskLimits(user_id=user_id, limits=limits))


async def _wait_for(predicate, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


# -- fills, positions, ledger -----------------------------------------------------------


async def test_fills_keep_positions_ledger_and_account_consistent(env):
    user, account = await env.account(capital="200000")
    await _limits(env, user, NO_LIMITS)
    trades = [  # (symbol, side, quantity, fill price)
        ("SOLUSDT", "BUY", "10", "150.10"),
        ("ETHUSDT", "BUY", "1.5", "3200"),
        ("SOLUSDT", "BUY", "5", "151.37"),
        ("SOLUSDT", "SELL", "12", "149.99"),
        ("ETHUSDT", "SELL", "2.5", "3210.55"),  # through zero: short 1
        ("SOLUSDT", "SELL", "3", "152"),
    ]
    for symbol, side, quantity, price in trades:
        await env.tick(symbol, price)
        await env.place(user, account, symbol=symbol, side=side, quantity=Decimal(quantity))
        await env.tick(symbol, price)
    await env.tick("SOLUSDT", "148.5")
    await env.tick("ETHUSDT", "3190")

    async with env.sessions() as session:
        fills = (await FillRepository(session, user).search(100, 0)).items
        positions = await PositionRepository(session, user).open_for_account(account)
        ledger = await LedgerRepository(session, user).for_account(account)
        account_row = await session.get(BrokerAccount, account)
        summary = await env.engine.reader.summary(session, account_row, env.clock.now())

    assert len(fills) == len(trades)
    signed = {}
    for f in fills:
        signed[f.symbol] = signed.get(f.symbol, 0) + (
            f.quantity if f.side == "BUY" else -f.quantity
        )
    assert {p.symbol: p.quantity for p in positions} == {"ETHUSDT": Decimal(-1)}
    assert signed == {"SOLUSDT": 0, "ETHUSDT": Decimal(-1)}
    flows = sum(f.price * f.quantity * (-1 if f.side == "BUY" else 1) for f in fills)
    charges = sum(f.charges for f in fills)
    assert sum(e.amount for e in ledger) == flows - charges
    assert summary.cash == Decimal(200000) + sum(e.amount for e in ledger)
    assert summary.equity == summary.cash + Decimal(-1) * Decimal(3190)
    assert (
        summary.realised_pnl + summary.unrealised_pnl - summary.charges == summary.equity - 200000
    )


async def test_a_fill_event_booked_twice_counts_once(env):
    user, account = await env.account()
    seen = []
    listener = env.engine.broker._listener

    async def record(events):
        seen.extend(events)
        await listener(events)

    env.engine.broker.listen(record)
    try:
        await env.tick("SOLUSDT", 150)
        order = await env.place(user, account, quantity=Decimal(2))
        await env.tick("SOLUSDT", 150)
    finally:
        env.engine.broker.listen(listener)

    await env.engine.booker.apply(seen)

    async with env.sessions() as session:
        count = await session.scalar(select(func.count()).where(Fill.order_id == order.id))
        ledger = await LedgerRepository(session, user).for_account(account)
    assert count == 1
    assert len([e for e in ledger if e.kind == "FILL"]) == 1


# -- exits and sweeping ----------------------------------------------------------------


async def test_exit_intent_closes_the_whole_position(env):
    user, account = await env.account()
    await env.tick("SOLUSDT", 150)
    await env.place(user, account, quantity=Decimal(7))
    await env.tick("SOLUSDT", 150)

    exit_order = await env.place(
        user, account, side=None, quantity=None, purpose="close", algo_tag="ma_crossover"
    )
    await env.tick("SOLUSDT", 151)

    assert (exit_order.side, exit_order.quantity) == ("SELL", Decimal(7))
    async with env.sessions() as session:
        (position,) = (
            await PositionRepository(session, user).search(
                10, 0, broker_account_id=account, open_only=False
            )
        ).items
    assert position.quantity == 0


async def test_exit_intent_without_a_position_is_denied(env):
    user, account = await env.account()

    order = await env.place(
        user, account, side=None, quantity=None, purpose="close", algo_tag="ma_crossover"
    )

    assert (order.status, order.reason_code) == ("DENIED", "nothing_to_exit")


async def test_pending_order_that_missed_the_stream_is_swept(own_settings):
    options = ProcessorOptions(read_block_ms=20, pending_after_s=0)
    async with processor_env(own_settings, options=options) as env:
        user, account = await env.account()
        await env.tick("SOLUSDT", 150)
        intent = env.intent(user, account)
        async with transaction(env.sessions) as session:
            service = OrderService(session, user, now=env.clock.now(), catalog=env.engine.catalog)
            row, _ = await service.accept(intent)  # committed, never appended

        await env.engine.sweep()

        assert (await env.order(user, row.id)).status == "OPEN"


async def test_intents_on_the_stream_are_processed_and_acknowledged(env):
    user, account = await env.account()
    await _limits(env, user, NO_LIMITS)
    intents = [env.intent(user, account, quantity=Decimal(1)) for _ in range(5)]

    for intent in intents:
        await env.bus.append(intent_stream(account), intent)

    async def all_decided():
        orders = [await env.order_by_key(user, i.client_order_id) for i in intents]
        return all(o is not None and o.status == "OPEN" for o in orders)

    await _wait_for(all_decided)
    await _wait_for(
        lambda: _pending_is(env, account, 0),
    )


async def _pending_is(env, account, n):
    return await env.bus.pending_count(intent_stream(account), GROUP_ORDER_PROCESSOR) == n


# -- unknown outcomes --------------------------------------------------------------------


MANUAL_SWEEPS = ProcessorOptions(read_block_ms=20, sweep_every_s=3600)  # the test sweeps


class TimesOutOnce(BrokerWrapper):
    """Sends the first order, then loses the reply (a timeout after sending)."""

    def __init__(self, inner, send_first=True):
        super().__init__(inner)
        self.calls = 0
        self.send_first = send_first

    async def place(self, order):
        self.calls += 1
        if self.calls == 1:
            if self.send_first:
                await self.inner.place(order)
            raise TimeoutError("no reply from the broker")
        return await self.inner.place(order)


async def test_timed_out_order_is_unknown_then_reconciled_by_status_not_resent(own_settings):
    async with processor_env(own_settings, wrap=TimesOutOnce, options=MANUAL_SWEEPS) as env:
        user, account = await env.account()
        await env.tick("SOLUSDT", 150)
        order = await env.place(user, account, order_type="LIMIT", limit_price=Decimal("149"))
        unknown = order.status

        await env.engine.sweep()
        reconciled = await env.order(user, order.id)
        await env.tick("SOLUSDT", 148)

        assert unknown == "UNKNOWN"
        assert reconciled.status == "OPEN"
        assert env.engine.broker.calls == 1
        assert (await env.order(user, order.id)).status == "FILLED"


async def test_unknown_order_the_broker_never_received_is_rejected(own_settings):
    wrap = lambda inner: TimesOutOnce(inner, send_first=False)  # noqa: E731
    async with processor_env(own_settings, wrap=wrap, options=MANUAL_SWEEPS) as env:
        user, account = await env.account()
        await env.tick("SOLUSDT", 150)
        order = await env.place(user, account)

        await env.engine.sweep()

        after = await env.order(user, order.id)
        assert (after.status, after.reason_code) == ("REJECTED", "not_at_broker")
        assert env.engine.broker.calls == 1


# -- restarts ----------------------------------------------------------------------------


async def test_resting_orders_survive_a_restart(own_settings):
    async with processor_env(own_settings) as first:
        user, account = await first.account()
        await first.tick("SOLUSDT", 150)
        order = await first.place(user, account, order_type="LIMIT", limit_price=Decimal("149"))

    async with processor_env(own_settings) as second:
        await second.tick("SOLUSDT", 148.5)

        after = await second.order(user, order.id)
        assert (after.status, after.average_price) == ("FILLED", Decimal("148.5"))


# -- the MIS square-off ------------------------------------------------------------------


async def test_intraday_positions_are_squared_off_at_1520(own_settings):
    clock = EventClock(ist(10))
    async with processor_env(own_settings, clock=clock) as env:
        user, account = await env.account(currency="INR")
        await env.tick("RELIANCE", 1500)
        await env.place(user, account, symbol="RELIANCE", quantity=Decimal(3), product="MIS")
        await env.tick("RELIANCE", 1500)

        clock.advance_to(ist(15, 21))
        await env.engine.run_square_off()
        await env.tick("RELIANCE", 1490)

        async with env.sessions() as session:
            orders = (
                await session.scalars(
                    select(OrderRow).where(OrderRow.user_id == user, OrderRow.origin == "system")
                )
            ).all()
            (position,) = (
                await PositionRepository(session, user).search(
                    10, 0, broker_account_id=account, open_only=False
                )
            ).items
        assert [(o.side, o.quantity, o.status) for o in orders] == [("SELL", Decimal(3), "FILLED")]
        assert position.quantity == 0


async def test_ticks_published_on_the_bus_fill_resting_orders(env):
    from datetime import timedelta

    from shared.contracts import TickMsg, tick_channel

    user, account = await env.account()
    await env.tick("SOLUSDT", 150)
    order = await env.place(user, account, order_type="LIMIT", limit_price=Decimal("149"))

    ts = env.clock.now() + timedelta(milliseconds=5)
    await env.bus.publish(tick_channel("SOLUSDT"), TickMsg(symbol="SOLUSDT", ts=ts, price=148.9))

    async def filled():
        return (await env.order(user, order.id)).status == "FILLED"

    await _wait_for(filled)


async def test_fill_while_a_change_is_pending_is_booked_on_the_terms_at_the_broker(own_settings):
    # A change asked for is not the order's terms until the processor applies it: the
    # broker still works the old terms, and what fills meanwhile is real.
    options = ProcessorOptions(read_block_ms=20, resync_every_s=3600, sweep_every_s=3600)
    async with processor_env(own_settings, options=options) as env:
        user, account = await env.account()
        await env.tick("SOLUSDT", 150)
        order = await env.place(
            user, account, order_type="LIMIT", limit_price=Decimal("149"), quantity=Decimal(4)
        )
        async with transaction(env.sessions) as session:
            service = OrderService(session, user, now=env.clock.now(), catalog=env.engine.catalog)
            _, command = await service.modify(order.id, quantity=Decimal(2))

        await env.tick("SOLUSDT", 148)  # fills the 4 still resting
        await env.engine.handle_intent(command)  # too late: the order is done

        after = await env.order(user, order.id)
        assert (after.status, after.filled_quantity, after.quantity) == (
            "FILLED",
            Decimal(4),
            Decimal(4),
        )
        assert after.version == command.version + 1


async def test_change_to_less_than_filled_meanwhile_is_refused_and_the_order_rests(own_settings):
    from order_processor.domain.paper import FillModel

    options = ProcessorOptions(read_block_ms=20, resync_every_s=3600, sweep_every_s=3600)
    async with processor_env(own_settings, options=options) as env:
        user, account = await env.account()
        await env.tick("SOLUSDT", 150)
        order = await env.place(
            user, account, order_type="LIMIT", limit_price=Decimal("149"), quantity=Decimal(10)
        )
        async with transaction(env.sessions) as session:
            service = OrderService(session, user, now=env.clock.now(), catalog=env.engine.catalog)
            _, command = await service.modify(order.id, quantity=Decimal(4))
        env.engine.broker.matcher.fill_model = FillModel(participation=Decimal("0.05"))
        await env.tick("SOLUSDT", 148)  # 5 of the tick's 100 fill: more than the asked 4
        mid = await env.order(user, order.id)
        assert (mid.status, mid.filled_quantity) == ("PENDING_UPDATE", Decimal(5))

        await env.engine.handle_intent(command)

        after = await env.order(user, order.id)
        assert (after.status, after.quantity, after.reason_code) == (
            "PARTIALLY_FILLED",
            Decimal(10),
            "change_refused",
        )
        assert after.amend_quantity is None


async def test_each_booking_publishes_the_marked_account_on_the_users_channel(env):
    from shared.contracts import AccountEvent, user_channel

    user, account = await env.account(capital="100000")
    await _limits(env, user, NO_LIMITS)
    sub = await env.bus.subscribe([user_channel(user)])
    await env.tick("SOLUSDT", "150")
    await env.place(user, account, symbol="SOLUSDT", side="BUY", quantity=Decimal("2"))
    await env.tick("SOLUSDT", "150")
    seen = []
    while (item := await sub.get(wait=2)) is not None:
        seen.append(item[1])
        if isinstance(item[1], AccountEvent):
            break
    await sub.close()
    event = next(m for m in seen if isinstance(m, AccountEvent))
    async with env.sessions() as session:
        summary = await env.engine.reader.summary(
            session, await session.get(BrokerAccount, account), event.ts
        )
    assert event.broker_account_id == account
    assert event.cash == summary.cash < Decimal(100000)
    assert event.equity == event.cash + event.market_value


async def test_a_booking_of_many_fills_sends_each_position_once_as_it_left_it(env):
    from shared.contracts import FillEvent, PositionEvent, user_channel

    user, account = await env.account(capital="1000000")
    await _limits(env, user, NO_LIMITS)
    await env.tick("SOLUSDT", "150")
    await env.tick("ETHUSDT", "3000")
    for quantity in ("1", "2", "3"):
        await env.place(user, account, symbol="SOLUSDT", side="BUY", quantity=Decimal(quantity))
    await env.place(user, account, symbol="ETHUSDT", side="BUY", quantity=Decimal("1"))
    sub = await env.bus.subscribe([user_channel(user)])
    await env.tick("SOLUSDT", "150")  # one report: the three SOLUSDT orders fill
    await env.tick("ETHUSDT", "3000")
    seen = []
    while (item := await sub.get(wait=1)) is not None:
        seen.append(item[1])
    await sub.close()

    fills = [m for m in seen if isinstance(m, FillEvent)]
    positions = [m for m in seen if isinstance(m, PositionEvent)]
    assert [f.symbol for f in fills] == ["SOLUSDT"] * 3 + ["ETHUSDT"]
    assert [(p.symbol, p.quantity) for p in positions] == [
        ("SOLUSDT", Decimal(6)),
        ("ETHUSDT", Decimal(1)),
    ]
    # Each position event comes after the last fill of its position.
    order = [
        type(m).__name__ + ":" + m.symbol for m in seen if isinstance(m, FillEvent | PositionEvent)
    ]
    assert order.index("PositionEvent:SOLUSDT") > max(
        i for i, name in enumerate(order) if name == "FillEvent:SOLUSDT"
    )
    async with env.sessions() as session:
        held = await PositionRepository(session, user).open_for_account(account)
    stored = next(p for p in held if p.symbol == "SOLUSDT")
    assert stored.quantity == Decimal(6)
    assert positions[0].average_price == stored.average_price


async def test_a_booking_that_does_not_commit_leaves_no_fill_in_the_account_model(env, monkeypatch):
    """The account's summary is made inside the booking's transaction (its equity model reads
    the fills just stored): should the transaction then fail, the model must not keep
    fills that were never committed (it would count them in every later risk view)."""
    from order_processor.events import Outbox

    user, account = await env.account(capital="100000")
    await _limits(env, user, NO_LIMITS)
    await env.tick("SOLUSDT", "150")
    await env.place(user, account, symbol="SOLUSDT", side="BUY", quantity=Decimal("2"))
    stage = Outbox.stage
    failed = []

    async def failing(self, session, now):
        if not failed:
            failed.append(now)
            raise ConnectionError("the database went away before the commit")
        return await stage(self, session, now)

    before = env.engine.booker.failures
    monkeypatch.setattr(Outbox, "stage", failing)
    await env.tick("SOLUSDT", "150")
    monkeypatch.setattr(Outbox, "stage", stage)
    assert failed and env.engine.booker.failures == before + 1

    async with env.sessions() as session:
        stored = await session.scalar(select(func.count()).where(Fill.user_id == user))
        summary = await env.engine.reader.summary(
            session, await session.get(BrokerAccount, account), env.clock.now()
        )
    assert stored == 0
    assert (summary.cash, summary.open_positions) == (Decimal(100000), 0)
