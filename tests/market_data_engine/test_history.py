"""Simulated history before the live feed: bars, roll-ups, idempotent backfill, engine seeding,
the candle cache, and market status announcements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from market_data_engine.backfill import HistoryBackfill, warm_candle_cache
from market_data_engine.candles.buckets import to_ns
from market_data_engine.candles.engine import CandleEngine
from market_data_engine.feeds.simulated_history import HistorySimulator, sessions_back
from market_data_engine.status import MarketStatusPublisher
from market_data_engine.ticks import TickBatch
from shared.bus import InProcessEventBus
from shared.calendar import IST
from shared.candle_cache import InProcessCandleCache
from shared.clock import EventClock
from shared.contracts import CHANNEL_MARKET_STATUS, CandleMsg, Timeframe
from shared.instruments import load_catalog
from shared.tickstore import LocalTickStore

SATURDAY = datetime(2026, 12, 5, 17, 5, 30, tzinfo=UTC)
FRIDAY_NOON = datetime(2026, 12, 4, 12, 0, 30, tzinfo=IST)
CATALOG = load_catalog()
RELIANCE_REF = float(CATALOG.get("RELIANCE").ref_price)  # where the live feed starts
SIMULATOR = HistorySimulator(ticks_per_minute=20, seed=7)


def _backfill(store, now, sessions=30):
    return HistoryBackfill(store, CATALOG, SIMULATOR, EventClock(now), sessions=sessions)


def _aggregate(minutes: list[CandleMsg]) -> tuple[float, float, float, float, float]:
    return (
        minutes[0].open,
        max(c.high for c in minutes),
        min(c.low for c in minutes),
        minutes[-1].close,
        sum(c.volume for c in minutes),
    )


def test_simulated_bars_are_session_minutes_on_the_tick_grid_ending_at_the_reference_price():
    inst, cal = CATALOG.get("RELIANCE"), CATALOG.calendar("RELIANCE")
    start = sessions_back(cal, SATURDAY, 5)

    bars = SIMULATOR.bars(inst, cal, start, SATURDAY)
    again = SIMULATOR.bars(inst, cal, start, SATURDAY)

    assert len(bars) == 5 * 375
    assert np.all((bars.start >= bars.s_open) & (bars.end <= bars.s_close))
    assert np.all(bars.low <= np.minimum(bars.open, bars.close))
    assert np.all(bars.high >= np.maximum(bars.open, bars.close))
    on_grid = np.abs(bars.close / 0.05 - np.rint(bars.close / 0.05)) < 1e-6
    assert on_grid.all() and np.all(bars.volume >= 1) and np.all(bars.trades >= 1)
    assert bars.close[-1] == float(inst.ref_price)
    assert np.array_equal(bars.close, again.close)  # seeded


def test_simulated_bars_carry_on_from_a_start_price():
    inst, cal = CATALOG.get("BTCUSDT"), CATALOG.calendar("BTCUSDT")

    end = SATURDAY.replace(second=0)
    bars = SIMULATOR.bars(inst, cal, end - timedelta(hours=2), end, start_price=90_000)

    assert len(bars) == 120 and bars.open[0] == 90_000
    assert np.all(bars.open[1:] == bars.close[:-1])  # one continuous walk


async def test_backfill_on_a_weekend_writes_thirty_sessions_and_their_roll_ups():
    store = LocalTickStore(max_candles_per_series=50_000)

    history = await _backfill(store, SATURDAY).run(["RELIANCE", "BTCUSDT"])

    daily = await store.query_candles("RELIANCE", Timeframe.D1, limit=100)
    hourly = await store.query_candles("RELIANCE", Timeframe.H1, limit=1000)
    minutes = await store.query_candles("RELIANCE", Timeframe.M1, limit=50_000)
    assert len(daily) == 30 and len(hourly) == 30 * 7 and len(minutes) == 30 * 375
    assert daily[-1].start == datetime(2026, 12, 4, 9, 15, tzinfo=IST)
    last_session = [c for c in minutes if c.start >= daily[-1].start]
    d = daily[-1]
    assert (d.open, d.high, d.low, d.close, d.volume) == pytest.approx(_aggregate(last_session))
    assert history.last_prices["RELIANCE"] == minutes[-1].close == RELIANCE_REF
    # NSE's session is over; BTCUSDT's UTC day is under way and goes to the live engine.
    assert [b.symbol for b in history.open_sessions] == ["BTCUSDT"]
    btc_daily = await store.query_candles("BTCUSDT", Timeframe.D1, limit=100)
    assert btc_daily[-1].end == datetime(2026, 12, 5, tzinfo=UTC)  # today's is still open


async def test_a_second_start_writes_nothing_and_the_history_survives_on_disk(tmp_path):
    first = LocalTickStore(tmp_path, max_candles_per_series=50_000)
    await _backfill(first, SATURDAY, sessions=3).run(["RELIANCE"])

    reopened = LocalTickStore(tmp_path, max_candles_per_series=50_000)
    history = await _backfill(reopened, SATURDAY, sessions=3).run(["RELIANCE"])

    assert history.written == 0 and history.last_prices["RELIANCE"] == RELIANCE_REF
    assert len(await reopened.query_candles("RELIANCE", Timeframe.D1)) == 3


async def test_a_restart_fills_only_the_minutes_it_was_away_from_the_stored_close():
    store = LocalTickStore(max_candles_per_series=50_000)
    await _backfill(store, FRIDAY_NOON, sessions=2).run(["RELIANCE"])
    before = await store.query_candles("RELIANCE", Timeframe.M1, limit=5_000)

    later = FRIDAY_NOON + timedelta(minutes=30)
    await _backfill(store, later, sessions=2).run(["RELIANCE"])

    after = await store.query_candles("RELIANCE", Timeframe.M1, limit=5_000)
    new = after[len(before) :]
    assert len(new) == 30 and new[0].open == before[-1].close
    assert new[-1].end == datetime(2026, 12, 4, 12, 30, tzinfo=IST)
    bucket = datetime(2026, 12, 4, 11, 15, tzinfo=IST)  # 11:15-12:15: minutes of both runs
    [hour] = await store.query_candles(
        "RELIANCE", Timeframe.H1, bucket, bucket + timedelta(minutes=1)
    )
    inside = [c for c in after if bucket <= c.start < bucket + timedelta(hours=1)]
    assert len(inside) == 60
    assert (hour.open, hour.high, hour.low, hour.close, hour.volume) == pytest.approx(
        _aggregate(inside)
    )


async def test_a_seeded_engine_closes_the_days_candle_with_the_minutes_before_the_start():
    store = LocalTickStore(max_candles_per_series=50_000)
    history = await _backfill(store, FRIDAY_NOON, sessions=1).run(["RELIANCE"])
    morning = await store.query_candles("RELIANCE", Timeframe.M1, limit=5_000)
    engine = CandleEngine(CATALOG.calendar, grace=timedelta(0))
    for bars in history.open_sessions:
        engine.seed(bars, history.end)

    tick_at = to_ns(FRIDAY_NOON + timedelta(seconds=10))
    engine.ingest(
        TickBatch(
            np.array(["RELIANCE"], dtype=object),
            np.array([tick_at]),
            np.array([1600.0]),
            np.array([5.0]),
        )
    )
    closed = engine.on_timer(datetime(2026, 12, 4, 15, 31, tzinfo=IST))

    [day] = [c for c in closed if c.timeframe is Timeframe.D1]
    open_, high, _, _, volume = _aggregate(morning)
    assert day.start == datetime(2026, 12, 4, 9, 15, tzinfo=IST)
    assert day.open == open_ and day.high == max(high, 1600.0) and day.close == 1600.0
    assert day.volume == pytest.approx(volume + 5.0)
    # Only the hour under way at the start closes: those before it were written by the
    # backfill, and no tick came after it.
    hours = [c for c in closed if c.timeframe is Timeframe.H1]
    assert [h.start.astimezone(IST).strftime("%H:%M") for h in hours] == ["11:15"]
    assert hours[0].open == next(c.open for c in morning if c.start == hours[0].start)


async def test_the_candle_cache_is_filled_from_the_store_for_strategy_windows():
    store = LocalTickStore(max_candles_per_series=50_000)
    await _backfill(store, SATURDAY, sessions=5).run(["INFY"])
    cache = InProcessCandleCache()

    pushed = await warm_candle_cache(store, cache, ["INFY"], depth=200)

    five = await cache.recent("INFY", Timeframe.M5, 500)
    hours = await cache.recent("INFY", Timeframe.H1, 500)
    assert len(five) == 200 and len(hours) == 5 * 7  # all there is
    assert pushed == 200 + 200 + 5 * 25 + 5 * 7 + 5
    assert five[-1].end == datetime(2026, 12, 4, 15, 30, tzinfo=IST)


async def test_warming_again_merges_history_stored_later_under_the_cached_candles():
    store = LocalTickStore(max_candles_per_series=50_000)
    await _backfill(store, SATURDAY, sessions=5).run(["INFY"])
    stored = await store.query_candles("INFY", Timeframe.H1, limit=500)
    cache = InProcessCandleCache()
    await cache.push(stored[-2:])  # what a running engine held before the older history

    added = await warm_candle_cache(store, cache, ["INFY"], depth=200)

    hours = await cache.recent("INFY", Timeframe.H1, 500)
    assert hours == stored and added >= len(stored) - 2
    assert await warm_candle_cache(store, cache, ["INFY"], depth=200) == 0  # nothing new


async def test_market_status_is_announced_at_start_and_when_a_market_closes():
    bus = InProcessEventBus()
    sub = await bus.subscribe([CHANNEL_MARKET_STATUS])
    clock = EventClock(datetime(2026, 12, 4, 15, 29, 30, tzinfo=IST))
    publisher = MarketStatusPublisher(bus, clock, ["NSE", "BINANCE"])

    await publisher.start()
    await publisher.stop()
    first = [(await sub.get(1))[1] for _ in range(2)]
    wait = publisher.wait_s(clock.now())
    clock.advance_to(datetime(2026, 12, 4, 15, 30, 1, tzinfo=IST))
    changed = await publisher.check()

    assert [m.exchange for m in first] == ["NSE", "BINANCE"] and first[0].is_open
    assert 30 <= wait <= 31  # until the close
    assert [(m.exchange, m.reason) for m in changed] == [("NSE", "after_close")]
    assert (await sub.get(1))[1].message.startswith("NSE is closed (after the session)")
    assert await publisher.check() == []  # nothing new
    await bus.close()
