"""Closing a candle never depends on the bus: the tick store has it at once, the candle cache
and strategy evaluation get it when Redis is back, in order, each burst once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from market_data_engine.candles.engine import CandleEngine
from market_data_engine.feeds.base import Feed
from market_data_engine.feeds.simulated import SimulatedFeed
from market_data_engine.service import MarketDataService
from market_data_engine.ticks import TickBatch
from market_data_engine.validation import TickValidator
from shared.bus import EventBus, InProcessEventBus
from shared.candle_cache import CandleCache, InProcessCandleCache
from shared.clock import EventClock
from shared.contracts import CandleMsg, Message, Timeframe
from shared.instruments import load_catalog
from shared.tickstore import create_tickstore
from tests.servers import RedisServer

OPEN = datetime(2026, 11, 20, 3, 45, tzinfo=UTC)  # Friday 09:15 IST
ONE = np.array(["INFY"], dtype=object)


class FlakyCache:
    """An in-process candle cache behind a dependency that can go down (as Redis does)."""

    def __init__(self) -> None:
        self.down = False
        self.inner = InProcessCandleCache()

    async def push(self, candles: Sequence[CandleMsg]) -> None:
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        await self.inner.push(candles)

    async def recent(self, symbol: str, timeframe: Timeframe, n: int) -> list[CandleMsg]:
        return await self.inner.recent(symbol, timeframe, n)

    async def recent_many(self, keys, n):  # type: ignore[no-untyped-def]
        return await self.inner.recent_many(keys, n)


def service(cache: CandleCache, bus: EventBus | None = None) -> tuple[MarketDataService, list]:
    catalog = load_catalog()
    handed: list[list[CandleMsg]] = []

    async def on_candles(candles: list[CandleMsg]) -> None:
        handed.append(list(candles))

    svc = MarketDataService(
        SimulatedFeed(catalog, ["INFY"], seed=1, realtime=False, start=OPEN, max_ticks=1),
        validator=TickValidator(catalog),
        engine=CandleEngine(catalog.calendar),
        tickstore=create_tickstore("local"),
        bus=bus or InProcessEventBus(),
        candle_cache=cache,
        clock=EventClock(OPEN),
        on_candles=on_candles,
        live_clock=False,
    )
    svc.delivery.min_retry_delay = svc.delivery.max_retry_delay = 0.01
    return svc, handed


async def tick(svc: MarketDataService, minute: int, price: float) -> None:
    t = int((OPEN + timedelta(minutes=minute, seconds=1)).timestamp() * 1e9)
    await svc.process(TickBatch(ONE, np.array([t]), np.array([price]), np.array([1.0])))


def close_of(minute: int) -> datetime:
    """A moment past the end and grace of ``minute``: the timer closes it then."""
    return OPEN + timedelta(minutes=minute + 1, seconds=5)


async def stored_1m(svc: MarketDataService) -> list[float]:
    return [c.close for c in await svc.tickstore.query_candles("INFY", Timeframe.M1)]


async def test_a_timer_close_while_the_cache_is_down_stores_the_candle_and_hands_it_on_later():
    cache = FlakyCache()
    svc, handed = service(cache)
    await tick(svc, 0, 1500.0)
    cache.down = True

    closed = await svc.close_due(close_of(0))  # raises nothing

    assert [c.close for c in closed if c.timeframe is Timeframe.M1] == [1500.0]
    assert await stored_1m(svc) == [1500.0]  # history does not wait for the bus
    assert handed == [] and svc.delivery.pending == len(closed)

    cache.down = False
    await asyncio.sleep(0.02)
    await svc.close_due(close_of(0))  # the next timer turn retries

    assert handed == [list(closed)]
    assert [c.close for c in await cache.recent("INFY", Timeframe.M1, 10)] == [1500.0]
    assert svc.delivery.pending == 0 and svc.delivery.delivered_late == len(closed)


async def test_candles_closed_during_an_outage_arrive_in_order_each_once():
    cache = FlakyCache()
    svc, handed = service(cache)
    await tick(svc, 0, 1500.0)
    cache.down = True
    for minute in (1, 2):
        await tick(svc, minute, 1500.0 + minute)  # each tick closes the minute before
        await asyncio.sleep(0.02)
    await svc.close_due(close_of(2))

    cache.down = False
    await asyncio.sleep(0.02)
    await svc.close_due(close_of(2))
    await svc.close_due(close_of(2))

    minutes = [c.close for burst in handed for c in burst if c.timeframe is Timeframe.M1]
    assert minutes == [1500.0, 1501.0, 1502.0]
    assert [c.close for c in await cache.recent("INFY", Timeframe.M1, 10)] == minutes
    assert await stored_1m(svc) == minutes


async def test_a_failing_evaluation_hand_off_is_retried_without_caching_twice():
    cache = FlakyCache()
    svc, handed = service(cache)
    failures = 2
    record = svc.delivery.on_candles
    assert record is not None

    async def flaky_hand_off(candles: list[CandleMsg]) -> None:  # a broker that refuses twice
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionError("broker connection lost")
        await record(candles)

    svc.delivery.on_candles = flaky_hand_off  # type: ignore[assignment]
    pushes = 0
    push = cache.push

    async def counted(candles: Sequence[CandleMsg]) -> None:
        nonlocal pushes
        pushes += 1
        await push(candles)

    cache.push = counted  # type: ignore[method-assign]
    await tick(svc, 0, 1500.0)
    await svc.close_due(close_of(0))
    for _ in range(3):
        await asyncio.sleep(0.02)
        await svc.close_due(close_of(0))

    assert len(handed) == 1 and pushes == 1


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis this test may stop and start again (on the same port)."""
    with RedisServer() as server:
        yield server


@pytest.mark.service
async def test_a_redis_outage_during_a_timer_close_loses_no_candle(own_redis: RedisServer):
    from shared.bus.redis import RedisEventBus
    from shared.candle_cache_redis import RedisCandleCache
    from shared.redis_client import create_redis

    client = create_redis(host=own_redis.host, port=own_redis.port, socket_timeout=1, retries=0)
    bus = RedisEventBus(create_redis(host=own_redis.host, port=own_redis.port), owns_client=True)
    cache = RedisCandleCache(client)
    svc, handed = service(cache, bus)
    await tick(svc, 0, 1500.0)
    own_redis.stop()

    closed = await svc.close_due(close_of(0))

    assert await stored_1m(svc) == [1500.0]
    assert handed == []
    own_redis.start()
    deadline = time.monotonic() + 15
    while not handed and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        await svc.close_due(close_of(0))
    assert handed == [list(closed)]
    assert [c.close for c in await cache.recent("INFY", Timeframe.M1, 10)] == [1500.0]
    await bus.close()
    await client.aclose()


class QueueFeed(Feed):
    """A feed the test hands batches to, as a live connection would deliver them."""

    def __init__(self) -> None:
        super().__init__("queue", ["INFY"])
        self.queue: asyncio.Queue[TickBatch] = asyncio.Queue()

    async def _stream(self) -> AsyncGenerator[TickBatch, None]:
        while True:
            yield await self.queue.get()


class StallingBus(InProcessEventBus):
    """An in-process bus whose publishes hang while ``flowing`` is clear (a Redis outage
    with its connect retries)."""

    def __init__(self) -> None:
        super().__init__()
        self.flowing = asyncio.Event()
        self.flowing.set()

    async def publish_many(self, items: Sequence[tuple[str, Message]]) -> None:
        await self.flowing.wait()
        await super().publish_many(items)


def batch_at(minute: int, second: int, price: float) -> TickBatch:
    t = int((OPEN + timedelta(minutes=minute, seconds=second)).timestamp() * 1e9)
    return TickBatch(ONE, np.array([t]), np.array([price]), np.array([1.0]))


async def test_ticks_held_up_behind_a_stalled_publish_still_make_their_candle():
    """The consumer hangs on a publish while wall time passes the end of the next minute;
    the ticks of that minute, queued in the feed meanwhile, must still build its candle."""
    catalog = load_catalog()
    bus = StallingBus()
    clock = EventClock(OPEN + timedelta(seconds=1))
    feed = QueueFeed()
    svc = MarketDataService(
        feed,
        validator=TickValidator(catalog),
        engine=CandleEngine(catalog.calendar),
        tickstore=create_tickstore("local"),
        bus=bus,
        candle_cache=InProcessCandleCache(),
        clock=clock,
        timer_interval=0.01,
        quiet_after=0.2,
    )
    await svc.start()
    try:
        feed.queue.put_nowait(batch_at(0, 1, 1500.0))
        await asyncio.sleep(0.3)  # handled; the feed is quiet
        bus.flowing.clear()
        clock.advance_to(OPEN + timedelta(minutes=1, seconds=1))
        feed.queue.put_nowait(batch_at(1, 1, 1510.0))  # closes minute 0, hangs publishing
        feed.queue.put_nowait(batch_at(1, 30, 1520.0))  # waits unread behind it
        await asyncio.sleep(0.1)
        clock.advance_to(OPEN + timedelta(minutes=2, seconds=10))  # past minute 1 + grace
        await asyncio.sleep(0.3)  # the timer runs many times while the consumer hangs
        bus.flowing.set()
        await asyncio.sleep(0.5)  # the backlog is read, the feed is quiet, the timer closes
        assert await stored_1m(svc) == [1500.0, 1520.0]
        assert svc.engine.stats("INFY").late == 0
    finally:
        bus.flowing.set()
        await svc.stop()
