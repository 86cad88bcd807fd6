"""The evaluation service over a real database and bus: signals stored once, intents on the stream,
re-runs harmless, EXITs sent as typed close intents, subscription changes seen next candle."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
from pydantic import Field
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from algotrade.migrate import upgrade
from shared.bus import InProcessEventBus
from shared.candle_cache import InProcessCandleCache
from shared.clock import SystemClock
from shared.config import Settings
from shared.contracts import (
    CHANNEL_CONTROL,
    ORDER_STREAMS,
    CandleMsg,
    ControlEvent,
    OrderIntent,
    Product,
    Side,
    SignalAction,
    SignalMsg,
    Timeframe,
    candle_channel,
    intent_stream,
    user_channel,
)
from shared.db import create_engine, create_sessionmaker
from shared.models import BrokerAccount, Order, Position, SignalRecord, StrategySubscription, User
from shared.runtime import Runtime
from shared.tickstore import tickstore_from_settings
from strategy_workers import embedded
from strategy_workers.evaluation import Evaluator
from strategy_workers.service import EvaluationService
from strategy_workers.strategies import (
    CandleWindow,
    Signal,
    Strategy,
    StrategyParams,
    StrategyRegistry,
)
from strategy_workers.subscriptions import SubscriptionCache

BAR = timedelta(minutes=5)
T0 = datetime(2024, 1, 1, 3, 45, tzinfo=UTC)
_seq = itertools.count(1)


class ProbeParams(StrategyParams):
    action: Literal["BUY", "SELL", "EXIT"] = "BUY"
    bars: int = Field(3, ge=1, le=500)


class Probe(Strategy[ProbeParams]):
    """Says ``action`` on every bar with a 2% stop; counts its computations."""

    name = "probe"
    description = "Test strategy that always speaks."
    params_model = ProbeParams
    calls: ClassVar[int] = 0

    @property
    def warmup(self) -> int:
        return self.params.bars

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        Probe.calls += 1
        action = SignalAction(self.params.action)
        price = float(window.close[-1])
        if action is SignalAction.EXIT:
            return [Signal(action, 1.0, reason="probe exit")]
        sign = 1 if action is SignalAction.BUY else -1
        return [Signal(action, 0.8, price * (1 - sign * 0.02), price * (1 + sign * 0.06), "probe")]


def candles(
    symbol: str, n: int, *, start: int = 0, tf: Timeframe = Timeframe.M5
) -> list[CandleMsg]:
    """``n`` consecutive closed candles of ``symbol`` from bar ``start``."""
    out = []
    for i in range(start, start + n):
        price = 100.0 + i
        t = T0 + i * BAR
        out.append(
            CandleMsg(
                symbol=symbol,
                timeframe=tf,
                start=t,
                end=t + BAR,
                open=price,
                high=price + 1,
                low=price - 1,
                close=price,
                volume=1000.0,
                trades=5,
            )
        )
    return out


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("strategy-db") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, template_db: Path, tmp_path: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(template_db, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    request.applymarker(pytest.mark.service)
    pg = request.getfixturevalue("postgres_server")
    name = request.getfixturevalue("new_database")("strategy_service")
    url = pg.dsn(name)
    upgrade(url)
    yield url


@pytest.fixture
def sqlite_url(template_db: Path, tmp_path: Path) -> str:
    path = tmp_path / "test.db"
    shutil.copy(template_db, path)
    return f"sqlite+aiosqlite:///{path}"


@dataclass
class World:
    """A database, an in-process bus and candle cache, and the service under test."""

    sessions: async_sessionmaker[AsyncSession]
    bus: InProcessEventBus
    cache: InProcessCandleCache
    service: EvaluationService
    registry: StrategyRegistry

    async def trader(self) -> tuple[int, int]:
        """A user with a paper broker account: (user id, account id)."""
        n = next(_seq)
        async with self.sessions() as s, s.begin():
            user = User(email=f"svc{n}@example.com", password_hash="x", full_name="T")
            s.add(user)
            await s.flush()
            account = BrokerAccount(
                user_id=user.id,
                broker="paper",
                label="paper",
                starting_capital=Decimal(100000),
                currency="INR",
            )
            s.add(account)
            await s.flush()
            return user.id, account.id

    async def subscribe(
        self,
        owner: tuple[int, int],
        *,
        symbols: tuple[str, ...] = ("INFY",),
        params: dict[str, Any] | None = None,
        strategy: str = "probe",
        status: str = "active",
    ) -> int:
        async with self.sessions() as s, s.begin():
            row = StrategySubscription(
                user_id=owner[0],
                broker_account_id=owner[1],
                strategy=strategy,
                params=params or {},
                symbols=list(symbols),
                timeframe=Timeframe.M5.value,
                sizing_method="fixed_fractional",
                sizing_params={},
                capital_allocation=Decimal(100000),
                mode="paper",
                status=status,
            )
            s.add(row)
            await s.flush()
            return row.id

    async def intents(self) -> list[OrderIntent]:
        """Everything on the intents stream so far (read by a fresh consumer group)."""
        group = f"g{next(_seq)}"
        found: list[OrderIntent] = []
        for stream in ORDER_STREAMS:
            await self.bus.ensure_group(stream, group, "0")
            entries = await self.bus.read_group(stream, group, "c", count=100_000, block_ms=0)
            found += [e.message for e in entries if isinstance(e.message, OrderIntent)]
        return found

    async def stored(self) -> list[SignalRecord]:
        async with self.sessions() as s:
            return list((await s.scalars(select(SignalRecord).order_by(SignalRecord.id))).all())

    async def market(self, symbol: str = "INFY", bars: int = 10) -> CandleMsg:
        """Push ``bars`` candles of history into the cache; the last one is the closing candle."""
        history = candles(symbol, bars)
        await self.cache.push(history)
        return history[-1]


@pytest.fixture
def registry() -> StrategyRegistry:
    Probe.calls = 0
    reg = StrategyRegistry(package=None, entry_point_group=None)
    reg.register(Probe)
    return reg


async def _world(url: str, registry: StrategyRegistry) -> AsyncIterator[World]:
    engine = create_engine(Settings(_env_file=None), url)
    sessions = create_sessionmaker(engine)
    bus = InProcessEventBus()
    cache = InProcessCandleCache()
    service = EvaluationService(
        sessions=sessions,
        bus=bus,
        candle_cache=cache,
        evaluator=Evaluator(registry=registry),
    )
    yield World(sessions, bus, cache, service, registry)
    await bus.close()
    await engine.dispose()


@pytest.fixture
async def world(database_url: str, registry: StrategyRegistry) -> AsyncIterator[World]:
    async for w in _world(database_url, registry):
        yield w


@pytest.fixture
async def lite(sqlite_url: str, registry: StrategyRegistry) -> AsyncIterator[World]:
    async for w in _world(sqlite_url, registry):
        yield w


# -- signals and intents -------------------------------------------------------------------


async def test_closed_candle_stores_each_signal_and_appends_its_intent(world):
    owner = await world.trader()
    first, second = await world.subscribe(owner), await world.subscribe(owner, params={"bars": 4})
    candle = await world.market()

    outcome = await world.service.handle([candle])

    stored = await world.stored()
    intents = await world.intents()
    assert sorted(r.subscription_id for r in stored) == [first, second]
    assert sorted(i.client_order_id for i in intents) == sorted(r.client_order_id for r in stored)
    assert {i.side for i in intents} == {Side.BUY}
    assert len(outcome.signals) == 2


async def test_a_bursts_intents_reach_each_stream_in_one_call_in_order(lite, monkeypatch):
    """Hundreds of intents of a candle close: one pipelined append per partition stream (a
    Redis round trip each), not one per intent; a stream's intents keep their order."""
    owners = [await lite.trader() for _ in range(6)]
    for owner in owners:
        await lite.subscribe(owner)
        await lite.subscribe(owner, params={"bars": 4})
    candle = await lite.market()
    calls: list[tuple[str, list[str]]] = []
    append_many = lite.bus.append_many

    async def recorded(stream, messages, maxlen=None):
        calls.append((stream, [m.client_order_id for m in messages]))
        return await append_many(stream, messages, maxlen)

    monkeypatch.setattr(lite.bus, "append_many", recorded)

    outcome = await lite.service.handle([candle])

    expected: dict[str, list[str]] = {}
    for intent in outcome.intents:
        stream = intent_stream(intent.broker_account_id)
        expected.setdefault(stream, []).append(intent.client_order_id)
    assert len(outcome.intents) == 12
    assert dict(calls) == expected and len(calls) == len(expected)


async def test_rerunning_a_candle_stores_no_new_signal_and_repeats_the_same_keys(world):
    owner = await world.trader()
    await world.subscribe(owner)
    candle = await world.market()
    first = await world.service.handle([candle])

    again = await world.service.handle([candle])

    assert len(await world.stored()) == 1
    assert again.signals == [] and again.repeated == 1
    assert [i.client_order_id for i in again.intents] == [i.client_order_id for i in first.intents]


async def test_rerun_does_not_append_an_intent_whose_order_exists(world):
    owner = await world.trader()
    await world.subscribe(owner)
    candle = await world.market()
    first = await world.service.handle([candle])
    intent = first.intents[0]
    async with world.sessions() as s, s.begin():
        s.add(_order_for(intent))

    again = await world.service.handle([candle])

    assert again.intents == []
    assert len(await world.intents()) == 1


async def test_signal_is_published_on_the_users_channel_after_commit(lite):
    owner = await lite.trader()
    await lite.subscribe(owner)
    candle = await lite.market()
    channel = await lite.bus.subscribe([user_channel(owner[0])])

    await lite.service.handle([candle])

    got = await channel.get(1.0)
    assert got is not None and isinstance(got[1], SignalMsg)
    assert got[1].signal_id == (await lite.stored())[0].signal_id


async def test_identical_parameters_are_computed_once_for_all_subscribers(lite):
    owner, other = await lite.trader(), await lite.trader()
    await lite.subscribe(owner, params={})
    await lite.subscribe(other, params={"bars": 3})  # the default, spelled out
    candle = await lite.market()

    outcome = await lite.service.handle([candle])

    assert outcome.evaluations == 1 and Probe.calls == 1
    assert len(outcome.intents) == 2


async def test_only_subscriptions_of_the_closed_market_are_evaluated(lite):
    owner = await lite.trader()
    await lite.subscribe(owner, symbols=("TCS",))
    candle = await lite.market("INFY")

    outcome = await lite.service.handle([candle])

    assert outcome.subscriptions == 0 and Probe.calls == 0


async def test_subscription_without_enough_history_is_skipped_as_warming_up(lite):
    owner = await lite.trader()
    await lite.subscribe(owner, params={"bars": 50})
    candle = await lite.market(bars=10)

    outcome = await lite.service.handle([candle])

    assert outcome.signals == []
    assert "warming up" in outcome.skipped[0].reason


async def test_rerun_of_an_older_candle_sees_only_the_history_before_it(lite):
    owner = await lite.trader()
    await lite.subscribe(owner, params={"bars": 5})
    history = candles("INFY", 30)
    await lite.cache.push(history)
    old = history[10]

    outcome = await lite.service.handle([old])

    assert outcome.signals[0].price == old.close
    assert outcome.signals[0].candle_end == old.end


# -- EXIT ----------------------------------------------------------------------------------


@pytest.mark.parametrize("held", [Decimal(7), Decimal(-3)])
async def test_exit_is_sent_as_a_typed_close_intent_for_the_processor_to_size(world, held):
    owner = await world.trader()
    await world.subscribe(owner, params={"action": "EXIT"})
    await _hold(world, owner, "INFY", held)
    candle = await world.market()

    outcome = await world.service.handle([candle])

    [intent] = outcome.intents
    assert intent.purpose == "close"
    assert (intent.side, intent.quantity) == (None, None)
    assert (intent.symbol, intent.product, intent.algo_tag) == ("INFY", Product.MIS, "probe")
    assert (await world.stored())[0].client_order_id == intent.client_order_id
    assert await world.intents() == [intent]


async def test_two_subscriptions_exiting_one_position_each_send_their_close_intent(lite):
    owner = await lite.trader()
    for _ in range(2):
        await lite.subscribe(owner, params={"action": "EXIT"})
    await _hold(lite, owner, "INFY", Decimal(5))
    candle = await lite.market()

    outcome = await lite.service.handle([candle])

    # The processor decides them one after the other: the second finds nothing left to close.
    assert [i.purpose for i in outcome.intents] == ["close", "close"]
    assert len(outcome.signals) == 2


async def test_exit_when_flat_still_sends_its_close_intent(lite):
    owner = await lite.trader()
    await lite.subscribe(owner, params={"action": "EXIT"})
    candle = await lite.market()

    outcome = await lite.service.handle([candle])

    [intent] = outcome.intents
    assert intent.purpose == "close"
    [record] = await lite.stored()
    assert record.action == "EXIT" and record.client_order_id == intent.client_order_id


# -- subscription changes ------------------------------------------------------------------


async def test_paused_subscription_stops_after_its_control_event(lite):
    owner = await lite.trader()
    sub_id = await lite.subscribe(owner)
    await lite.service.handle([await lite.market()])  # caches the subscription
    await _set_status(lite, sub_id, "paused")
    lite.service.subscriptions.invalidate(sub_id)

    outcome = await lite.service.handle(candles("INFY", 1, start=10))

    assert outcome.subscriptions == 0
    assert len(await lite.stored()) == 1


async def test_subscription_deleted_during_evaluation_emits_nothing(lite):
    owner = await lite.trader()
    sub_id = await lite.subscribe(owner)
    candle = await lite.market()
    await lite.service.subscriptions.refresh()  # cached before the delete, not told of it
    async with lite.sessions() as s, s.begin():
        await s.execute(delete(StrategySubscription).where(StrategySubscription.id == sub_id))

    outcome = await lite.service.handle([candle])

    assert outcome.signals == [] and outcome.intents == []


async def test_periodic_refresh_picks_up_a_change_whose_event_was_missed(lite):
    now = [0.0]
    cache = SubscriptionCache(lite.sessions, refresh_seconds=30, monotonic=lambda: now[0])
    owner = await lite.trader()
    await cache.refresh()
    await lite.subscribe(owner)

    before = await cache.for_markets([("INFY", Timeframe.M5)])
    now[0] = 31.0
    after = await cache.for_markets([("INFY", Timeframe.M5)])

    assert (len(before), len(after)) == (0, 1)


async def test_periodic_check_reloads_only_what_changed_and_drops_what_is_gone(lite):
    now = [0.0]
    cache = SubscriptionCache(lite.sessions, refresh_seconds=30, monotonic=lambda: now[0])
    owner = await lite.trader()
    kept, changed, gone = [await lite.subscribe(owner) for _ in range(3)]
    before = {s.id: s for s in await cache.for_markets([("INFY", Timeframe.M5)])}
    async with lite.sessions() as s, s.begin():
        await s.execute(
            update(StrategySubscription)
            .where(StrategySubscription.id == changed)
            .values(params={"bars": 4}, updated_at=datetime.now(UTC) + timedelta(seconds=1))
        )
        await s.execute(delete(StrategySubscription).where(StrategySubscription.id == gone))

    now[0] = 31.0
    after = {s.id: s for s in await cache.for_markets([("INFY", Timeframe.M5)])}

    assert sorted(after) == sorted([kept, changed])
    assert after[kept] is before[kept]  # untouched: not read again
    assert after[changed].params == {"bars": 4}
    assert cache.full_loads == 1


async def test_disabled_user_is_not_evaluated(lite):
    owner = await lite.trader()
    await lite.subscribe(owner)
    async with lite.sessions() as s, s.begin():
        await s.execute(update(User).where(User.id == owner[0]).values(is_active=False))

    found = await lite.service.subscriptions.for_markets([("INFY", Timeframe.M5)])

    assert found == []


# -- embedded profile ----------------------------------------------------------------------


async def test_embedded_worker_evaluates_candles_published_on_the_bus(lite, tmp_path):
    owner = await lite.trader()
    await lite.subscribe(owner, symbols=("INFY", "TCS"))
    runtime = _runtime(lite, tmp_path)
    worker = embedded.EmbeddedStrategyWorker(runtime, service=lite.service)
    await worker.start()
    try:
        closing = [await lite.market("INFY"), await lite.market("TCS")]
        for candle in closing:
            await lite.bus.publish(candle_channel(candle.symbol, candle.timeframe), candle)

        intents = await _eventually(lite.intents, lambda got: len(got) >= 2)
    finally:
        await worker.stop()

    assert sorted(i.symbol for i in intents) == ["INFY", "TCS"]
    assert worker.bursts == 1


async def test_embedded_worker_sees_a_paused_subscription_on_the_next_candle(lite, tmp_path):
    owner = await lite.trader()
    sub_id = await lite.subscribe(owner)
    worker = embedded.EmbeddedStrategyWorker(_runtime(lite, tmp_path), service=lite.service)
    await worker.start()
    try:
        first = await lite.market()
        await lite.bus.publish(candle_channel("INFY", first.timeframe), first)
        await _eventually(lite.intents, lambda got: len(got) == 1)
        await _set_status(lite, sub_id, "paused")
        await lite.bus.publish(
            CHANNEL_CONTROL,
            ControlEvent(
                action="subscription_changed",
                user_id=owner[0],
                subscription_id=sub_id,
                ts=datetime.now(UTC),
            ),
        )
        [following] = candles("INFY", 1, start=10)
        await lite.cache.push([following])
        await lite.bus.publish(candle_channel("INFY", following.timeframe), following)
        await _eventually(lambda: _bursts(worker), lambda n: n >= 2)
    finally:
        await worker.stop()

    assert len(await lite.intents()) == 1
    assert lite.service.subscriptions.partial_loads >= 1


# -- helpers -------------------------------------------------------------------------------


def _runtime(world: World, tmp_path: Path) -> Runtime:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    return Runtime(
        settings=settings,
        engine=None,  # type: ignore[arg-type]  # the service is given its sessions
        sessions=world.sessions,
        bus=world.bus,
        tickstore=tickstore_from_settings(settings),
        candle_cache=world.cache,
        clock=SystemClock(),
    )


async def _bursts(worker: embedded.EmbeddedStrategyWorker) -> int:
    return worker.bursts


async def _eventually(probe: Callable[[], Any], done: Callable[[Any], bool], wait: float = 5.0):
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        got = await probe()
        if done(got) or asyncio.get_running_loop().time() > deadline:
            return got
        await asyncio.sleep(0.01)


async def _set_status(world: World, sub_id: int, status: str) -> None:
    async with world.sessions() as s, s.begin():
        await s.execute(
            update(StrategySubscription)
            .where(StrategySubscription.id == sub_id)
            .values(status=status)
        )


async def _hold(world: World, owner: tuple[int, int], symbol: str, quantity: Decimal) -> None:
    async with world.sessions() as s, s.begin():
        s.add(
            Position(
                user_id=owner[0],
                broker_account_id=owner[1],
                symbol=symbol,
                product="MIS",
                quantity=quantity,
                average_price=Decimal(100),
            )
        )


def _order_for(intent: OrderIntent) -> Order:
    return Order(
        user_id=intent.user_id,
        broker_account_id=intent.broker_account_id,
        client_order_id=intent.client_order_id,
        request_hash="0" * 64,
        symbol=intent.symbol,
        side=intent.side.value,
        quantity=intent.quantity,
        order_type="MARKET",
        product="MIS",
        validity="DAY",
        status="OPEN",
        origin="subscription",
    )


async def _count(world: World) -> int:
    async with world.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(SignalRecord)) or 0)


# -- late work -----------------------------------------------------------------------------


async def test_candle_older_than_one_bar_is_recorded_as_skipped_and_not_executed(world):
    owner = await world.trader()
    sub_id = await world.subscribe(owner)  # 5m: one bar is 300 s
    candle = await world.market()
    closed_at = SystemClock().now() - timedelta(minutes=6)  # a task delivered again late

    outcome = await world.service.handle([candle], closed_at)

    assert outcome.stale == 1 and outcome.signals == [] and outcome.intents == []
    [skipped] = outcome.skipped
    assert (skipped.subscription_id, skipped.symbol) == (sub_id, "INFY")
    assert skipped.reason.startswith("stale candle: closed 360 s before evaluation")
    assert await world.stored() == []
    assert world.service.stale_candles == 1


async def test_candle_younger_than_one_bar_is_executed(world):
    owner = await world.trader()
    await world.subscribe(owner)
    candle = await world.market()

    outcome = await world.service.handle([candle], SystemClock().now() - timedelta(minutes=4))

    assert outcome.stale == 0 and len(outcome.intents) == 1
    assert len(await world.stored()) == 1


async def test_the_age_limit_is_a_setting_in_bars_of_the_candles_timeframe(lite):
    owner = await lite.trader()
    await lite.subscribe(owner)
    candle = await lite.market()
    lite.service.max_candle_age_bars = 3  # 15 minutes for 5m candles
    closed_at = SystemClock().now() - timedelta(minutes=10)

    outcome = await lite.service.handle([candle], closed_at)

    assert outcome.stale == 0 and len(outcome.intents) == 1
