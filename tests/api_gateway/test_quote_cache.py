"""Quotes shared by every request of a process: built again when a candle closes (else once
per TTL), priced at the latest tick."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta

import numpy as np
import pytest

from api_gateway.services.quotes import QuoteService
from shared.bus import InProcessEventBus
from shared.calendar import IST
from shared.contracts import CandleMsg, Timeframe, candle_channel
from shared.instruments import load_catalog
from shared.tickstore import InfluxTickStore, LocalTickStore, TickStore, TickStoreUnavailable
from tests.servers import InfluxServer

MONDAY_OPEN = datetime(2025, 12, 8, 9, 15, tzinfo=IST)
TUESDAY_OPEN = MONDAY_OPEN + timedelta(days=1)
NOW = MONDAY_OPEN + timedelta(hours=1)
RELIANCE = load_catalog().get("RELIANCE")
_databases = itertools.count(1)


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _minute(start: datetime, close: float, volume: float = 10.0) -> CandleMsg:
    return CandleMsg(
        symbol="RELIANCE", timeframe=Timeframe.M1, start=start, end=start + timedelta(minutes=1),
        open=close, high=close, low=close, close=close, volume=volume, trades=1,
    )  # fmt: skip


async def _tick(store: TickStore, at: datetime, price: float) -> None:
    await store.write_ticks(
        np.array(["RELIANCE"], dtype=object),
        np.array([int(at.timestamp() * 1e9)], dtype=np.int64),
        np.array([price]),
        np.array([1.0]),
    )
    await store.flush()


async def _store(store: LocalTickStore | None = None) -> LocalTickStore:
    """Friday's last minute, Monday's first two, and a tick in the third."""
    store = store if store is not None else LocalTickStore()
    await store.write_candles(
        [
            _minute(MONDAY_OPEN - timedelta(days=3) + timedelta(minutes=374), 2400.0),  # Friday
            _minute(MONDAY_OPEN, 2410.0),
            _minute(MONDAY_OPEN + timedelta(minutes=1), 2420.0),
        ]
    )
    await _tick(store, MONDAY_OPEN + timedelta(minutes=2, seconds=5), 2425.0)
    return store


async def test_a_second_request_within_the_ttl_is_answered_without_reading_candles():
    store, clock = await _store(), Clock()
    quotes = QuoteService(store, ttl=1.0, monotonic=clock)

    first = await quotes.quote(RELIANCE, NOW)
    clock.now = 0.9
    second = await quotes.quote(RELIANCE, NOW)

    assert quotes.builds == 1
    assert second == first and first.price == 2425.0 and first.prev_close == 2400.0


async def test_concurrent_requests_for_a_missing_quote_share_one_build():
    quotes = QuoteService(await _store(), ttl=1.0, monotonic=Clock())

    got = await asyncio.gather(*(quotes.quote(RELIANCE, NOW) for _ in range(20)))

    assert quotes.builds == 1 and len(set(got)) == 1


async def test_a_newer_tick_moves_the_price_change_and_range_within_the_ttl():
    store, clock = await _store(), Clock()
    quotes = QuoteService(store, ttl=1.0, monotonic=clock)
    before = await quotes.quote(RELIANCE, NOW)

    await _tick(store, MONDAY_OPEN + timedelta(minutes=2, seconds=30), 2450.0)
    clock.now = 0.5
    after = await quotes.quote(RELIANCE, NOW)

    assert quotes.builds == 1
    assert (before.price, after.price) == (2425.0, 2450.0)
    assert after.ts == MONDAY_OPEN + timedelta(minutes=2, seconds=30)
    assert after.change == 50.0 and after.change_pct == round(100 * 50 / 2400, 2)
    assert (after.open, after.high, after.low) == (2410.0, 2450.0, 2410.0)


async def test_candles_closed_since_the_build_show_once_the_ttl_has_passed():
    store, clock = await _store(), Clock()
    quotes = QuoteService(store, ttl=1.0, monotonic=clock)
    await quotes.quote(RELIANCE, NOW)

    await store.write_candles([_minute(MONDAY_OPEN + timedelta(minutes=2), 2380.0, volume=500)])
    clock.now = 1.5
    after = await quotes.quote(RELIANCE, NOW)

    assert quotes.builds == 2
    assert after.low == 2380.0 and after.volume == 520.0


async def test_a_tick_of_the_next_session_starts_the_day_again_within_the_ttl():
    store, clock = await _store(), Clock()
    quotes = QuoteService(store, ttl=60.0, monotonic=clock)
    monday = await quotes.quote(RELIANCE, NOW)

    await _tick(store, TUESDAY_OPEN + timedelta(seconds=1), 2500.0)
    tuesday = await quotes.quote(RELIANCE, TUESDAY_OPEN + timedelta(seconds=2))

    assert quotes.builds == 2
    assert monday.session_open == MONDAY_OPEN and tuesday.session_open == TUESDAY_OPEN
    assert (tuesday.open, tuesday.high, tuesday.low) == (2500.0, 2500.0, 2500.0)
    assert tuesday.prev_close == 2420.0 and tuesday.market_open


async def test_whether_the_market_is_open_is_decided_per_request():
    quotes = QuoteService(await _store(), ttl=60.0, monotonic=Clock())

    during = await quotes.quote(RELIANCE, NOW)
    evening = await quotes.quote(RELIANCE, NOW.replace(hour=20))

    assert during.market_open and not evening.market_open and quotes.builds == 1


@pytest.mark.service
async def test_a_cached_quote_follows_ticks_another_process_writes_to_influxdb(
    influx_server: InfluxServer,
):
    """The distributed profile: the API only reads InfluxDB, the engine writes it."""
    database = f"quotes_{next(_databases)}"
    engine = InfluxTickStore(influx_server.url, database)
    api = InfluxTickStore(influx_server.url, database, latest_ttl=0.2)
    quotes = QuoteService(api, ttl=0.2)
    try:
        await engine.write_candles([_minute(MONDAY_OPEN, 2410.0)])
        await _tick(engine, MONDAY_OPEN + timedelta(minutes=1, seconds=5), 2425.0)
        first = await quotes.quote(RELIANCE, NOW)
        prices = []
        for k in range(3):
            await _tick(engine, MONDAY_OPEN + timedelta(minutes=1, seconds=10 + k), 2430.0 + k)
            await asyncio.sleep(0.25)  # past both TTLs
            prices.append((await quotes.quote(RELIANCE, NOW)).price)

        assert first.price == 2425.0
        assert prices == [2430.0, 2431.0, 2432.0]
    finally:
        await engine.close()
        await api.close()


async def test_a_failed_build_reaches_every_waiter_and_the_next_request_builds_again():
    class Flaky(LocalTickStore):
        failures = 1

        async def query_candles(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            if self.failures:
                self.failures -= 1
                await asyncio.sleep(0.01)
                raise TickStoreUnavailable("influxdb is away")
            return await super().query_candles(*args, **kwargs)

    store = Flaky()
    await store.write_candles([_minute(MONDAY_OPEN, 2410.0)])
    quotes = QuoteService(store, ttl=1.0, monotonic=Clock())

    got = await asyncio.gather(
        *(quotes.quote(RELIANCE, NOW) for _ in range(3)), return_exceptions=True
    )
    after = await quotes.quote(RELIANCE, NOW)

    assert all(isinstance(g, TickStoreUnavailable) for g in got)
    assert after.price == 2410.0 and quotes.builds == 1


class CountingStore(LocalTickStore):
    """A local store that counts the candle queries made of it."""

    candle_queries = 0

    async def query_candles(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.candle_queries += 1
        return await super().query_candles(*args, **kwargs)


async def _following(quotes: QuoteService, bus: InProcessEventBus) -> asyncio.Task[None]:
    task = asyncio.create_task(quotes.follow(bus))
    while not quotes.following:
        await asyncio.sleep(0)
    return task


async def _close(bus: InProcessEventBus, candle: CandleMsg) -> None:
    await bus.publish(candle_channel(candle.symbol, candle.timeframe), candle)
    for _ in range(5):  # the follower takes it off its queue
        await asyncio.sleep(0)


async def _counting_store() -> CountingStore:
    store = await _store(CountingStore())
    assert isinstance(store, CountingStore)
    return store


async def test_a_quote_is_not_built_from_the_store_between_closes_and_is_after_one():
    store, clock, bus = await _counting_store(), Clock(), InProcessEventBus()
    quotes = QuoteService(store, ttl=1.0, monotonic=clock)
    follower = await _following(quotes, bus)
    try:
        await quotes.quote(RELIANCE, NOW)
        built = store.candle_queries
        clock.now = 120.0  # far past the TTL: without a close nothing is read again
        await _tick(store, MONDAY_OPEN + timedelta(minutes=2, seconds=40), 2430.0)
        between = await quotes.quote(RELIANCE, NOW)
        queries_between = store.candle_queries

        closed = _minute(MONDAY_OPEN + timedelta(minutes=2), 2380.0, volume=500)
        await store.write_candles([closed])
        await _close(bus, closed)
        after = await quotes.quote(RELIANCE, NOW)
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)

    assert built > 0 and queries_between == built and quotes.builds == 2
    assert between.price == 2430.0 and between.volume == 20.0
    assert store.candle_queries > built
    assert after.low == 2380.0 and after.volume == 520.0 and after.price == 2430.0


async def test_a_close_of_another_symbol_or_timeframe_leaves_the_quote_built():
    store, bus = await _counting_store(), InProcessEventBus()
    quotes = QuoteService(store, monotonic=Clock())
    follower = await _following(quotes, bus)
    try:
        await quotes.quote(RELIANCE, NOW)
        await _close(bus, _minute(MONDAY_OPEN, 100.0).model_copy(update={"symbol": "TCS"}))
        hour = _minute(MONDAY_OPEN, 2410.0).model_copy(update={"timeframe": Timeframe.H1})
        await bus.publish(candle_channel("RELIANCE", Timeframe.H1), hour)
        await asyncio.sleep(0.01)
        await quotes.quote(RELIANCE, NOW)
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)

    assert quotes.builds == 1


async def test_a_close_the_store_has_not_written_yet_is_in_the_built_quote():
    """The engine's store writes its buffer a moment after the close's event goes out."""
    store, bus = await _counting_store(), InProcessEventBus()
    quotes = QuoteService(store, monotonic=Clock())
    follower = await _following(quotes, bus)
    try:
        await quotes.quote(RELIANCE, NOW)
        await _close(bus, _minute(MONDAY_OPEN + timedelta(minutes=2), 2380.0, volume=500))
        after = await quotes.quote(RELIANCE, NOW)
        written = _minute(MONDAY_OPEN + timedelta(minutes=2), 2380.0, volume=500)
        await store.write_candles([written])  # now written: counted once, not twice
        await _close(bus, _minute(MONDAY_OPEN + timedelta(minutes=3), 2390.0, volume=1))
        later = await quotes.quote(RELIANCE, NOW)
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)

    assert quotes.builds == 3
    assert after.low == 2380.0 and after.volume == 520.0
    assert later.volume == 521.0


async def test_a_quote_is_built_again_after_the_most_it_is_kept_without_a_close():
    store, clock, bus = await _counting_store(), Clock(), InProcessEventBus()
    quotes = QuoteService(store, ttl=1.0, max_age=300.0, monotonic=clock)
    follower = await _following(quotes, bus)
    try:
        await quotes.quote(RELIANCE, NOW)
        clock.now = 299.0
        await quotes.quote(RELIANCE, NOW)
        clock.now = 301.0
        await quotes.quote(RELIANCE, NOW)
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)

    assert quotes.builds == 2


async def test_without_the_close_events_a_quote_is_built_again_after_the_ttl():
    store, clock, bus = await _counting_store(), Clock(), InProcessEventBus()
    quotes = QuoteService(store, ttl=1.0, monotonic=clock)
    follower = await _following(quotes, bus)
    await quotes.quote(RELIANCE, NOW)
    follower.cancel()
    await asyncio.gather(follower, return_exceptions=True)

    clock.now = 1.5
    await quotes.quote(RELIANCE, NOW)

    assert not quotes.following and quotes.builds == 2
