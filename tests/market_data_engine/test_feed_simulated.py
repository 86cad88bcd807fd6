"""The simulated feed: determinism, session hours, tick grid, lots, rate and volatility."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from market_data_engine.feeds.simulated import SimulatedFeed
from market_data_engine.ticks import TickBatch
from market_data_engine.validation import validate_ticks
from shared.calendar import IST
from shared.clock import EventClock
from shared.instruments import UnknownInstrument, load_catalog

CRYPTO = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"]
FRIDAY_AFTERNOON = datetime(2025, 11, 21, 15, 25, tzinfo=IST)
SATURDAY_NOON = datetime(2025, 11, 22, 12, 0, tzinfo=IST)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


async def collect(feed: SimulatedFeed) -> TickBatch:
    return TickBatch.concat([b async for b in feed])


def fast(catalog, symbols=None, **kw) -> SimulatedFeed:
    kw.setdefault("start", FRIDAY_AFTERNOON)
    kw.setdefault("max_ticks", 5_000)
    return SimulatedFeed(catalog, symbols, realtime=False, **kw)


def ist_times(ticks: TickBatch) -> list[datetime]:
    return [datetime.fromtimestamp(t / 1e9, UTC).astimezone(IST) for t in ticks.ts_ns.tolist()]


async def test_same_seed_and_parameters_give_identical_ticks(catalog):
    a = await collect(fast(catalog, seed=42, rate=500, batch_size=700))
    b = await collect(fast(catalog, seed=42, rate=500, batch_size=700))

    assert a.symbol.tolist() == b.symbol.tolist()
    assert np.array_equal(a.ts_ns, b.ts_ns)
    assert np.array_equal(a.price, b.price)
    assert np.array_equal(a.qty, b.qty)


async def test_different_seeds_give_different_ticks(catalog):
    a = await collect(fast(catalog, seed=1, rate=500))
    b = await collect(fast(catalog, seed=2, rate=500))

    assert not np.array_equal(a.price, b.price)


async def test_nse_ticks_fall_only_inside_sessions_and_resume_on_the_next_trading_day(catalog):
    end = datetime(2025, 11, 24, 9, 20, tzinfo=IST)  # Monday, five minutes after the open

    ticks = await collect(fast(catalog, rate=20, end=end, max_ticks=None))

    times = ist_times(ticks)
    assert all(t.weekday() < 5 and "09:15" <= t.strftime("%H:%M") < "15:30" for t in times)
    assert {t.date() for t in times} == {date(2025, 11, 21), date(2025, 11, 24)}


async def test_nse_symbols_do_not_tick_on_an_exchange_holiday(catalog):
    christmas = datetime(2025, 12, 25, 10, 0, tzinfo=IST)  # a Thursday, NSE closed

    ticks = await collect(fast(catalog, ["INFY"], start=christmas, max_ticks=10))

    first = ist_times(ticks)[0]
    assert (first.date(), first.strftime("%H:%M")) == (date(2025, 12, 26), "09:15")


async def test_us_symbols_tick_only_in_new_york_regular_hours(catalog):
    new_york = ZoneInfo("America/New_York")
    start = datetime(2025, 11, 28, 12, 55, tzinfo=new_york)  # early close at 13:00
    end = datetime(2025, 12, 1, 9, 35, tzinfo=new_york)  # Monday, five minutes after the open

    ticks = await collect(fast(catalog, ["AAPL"], start=start, end=end, rate=5, max_ticks=None))

    times = [t.astimezone(new_york) for t in ist_times(ticks)]
    assert {t.date() for t in times} == {date(2025, 11, 28), date(2025, 12, 1)}
    assert all(
        t.strftime("%H:%M") < "13:00" if t.day == 28 else t.strftime("%H:%M") >= "09:30"
        for t in times
    )


async def test_around_the_clock_lets_nse_symbols_tick_at_the_weekend(catalog):
    feed = fast(catalog, ["INFY"], start=SATURDAY_NOON, max_ticks=10, around_the_clock=True)

    ticks = await collect(feed)

    assert ist_times(ticks)[0].date() == SATURDAY_NOON.date()


async def test_crypto_ticks_at_the_weekend_while_nse_symbols_wait(catalog):
    end = SATURDAY_NOON + timedelta(minutes=1)
    feed = fast(catalog, ["BTCUSDT", "INFY"], start=SATURDAY_NOON, end=end, max_ticks=None)

    ticks = await collect(feed)

    assert len(ticks) > 0
    assert set(ticks.symbol.tolist()) == {"BTCUSDT"}


async def test_every_price_is_on_its_instruments_tick_grid(catalog):
    symbols = [*catalog.symbols("NSE"), *CRYPTO]

    ticks = await collect(fast(catalog, symbols, rate=1_000, max_ticks=20_000))

    _, rejected = validate_ticks(ticks, catalog, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert rejected == {}


async def test_quantities_are_positive_whole_lots(catalog):
    ticks = await collect(fast(catalog, ["INFY", "BTCUSDT", "XRPUSDT"], around_the_clock=True))

    lots = np.array([float(catalog.get(s).lot_size) for s in ticks.symbol])
    n_lots = ticks.qty / lots
    assert (n_lots >= 1).all()
    assert np.allclose(n_lots, np.rint(n_lots), atol=1e-6)


async def test_event_time_advances_at_the_configured_rate(catalog):
    ticks = await collect(fast(catalog, CRYPTO, rate=1_000, max_ticks=5_000))

    span_s = (ticks.ts_ns[-1] - ticks.ts_ns[0]) / 1e9
    assert span_s == pytest.approx(5.0, rel=0.01)


async def test_timestamps_never_go_backwards_across_batches(catalog):
    ticks = await collect(fast(catalog, rate=2_000, max_ticks=20_000, batch_size=1_000))

    assert (np.diff(ticks.ts_ns) >= 0).all()


async def test_realised_volatility_matches_the_catalogs_daily_volatility(catalog):
    hour = timedelta(hours=1)
    feed = fast(
        catalog,
        ["BTCUSDT"],
        rate=100,
        start=SATURDAY_NOON,
        end=SATURDAY_NOON + hour,
        max_ticks=None,
    )

    ticks = await collect(feed)

    log_returns = np.diff(np.log(ticks.price))
    daily = np.sqrt((log_returns**2).sum() * 24)  # one hour of a 24-hour market
    assert daily == pytest.approx(catalog.get("BTCUSDT").daily_vol, rel=0.1)


async def test_realtime_mode_paces_ticks_at_the_rate_and_stamps_them_from_the_clock(catalog):
    feed = SimulatedFeed(catalog, CRYPTO, rate=200, batch_interval_s=0.05)
    before = time.time_ns()
    batches = []

    async with feed:
        async for b in feed:
            batches.append(b)
            if time.time_ns() - before > 500_000_000:
                break
    after = time.time_ns()

    ticks = TickBatch.concat(batches)
    elapsed_s = (after - before) / 1e9
    assert 200 * (elapsed_s - 0.15) <= len(ticks) <= 200 * elapsed_s + 1
    assert before <= ticks.ts_ns.min() and ticks.ts_ns.max() <= after


async def test_realtime_mode_produces_nothing_for_nse_symbols_at_the_weekend(catalog):
    clock = EventClock(SATURDAY_NOON.astimezone(UTC))
    feed = SimulatedFeed(catalog, ["INFY"], rate=1_000, clock=clock, batch_interval_s=0.02)
    seen: list[TickBatch] = []

    async def consume():
        async for b in feed:
            seen.append(b)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)  # the feed has read the clock
    clock.advance_to(SATURDAY_NOON.astimezone(UTC) + timedelta(seconds=30))
    await asyncio.sleep(0.2)
    await feed.stop()
    await asyncio.wait_for(task, timeout=1)

    assert seen == []


async def test_stop_from_another_task_ends_a_realtime_feed_promptly(catalog):
    feed = SimulatedFeed(catalog, CRYPTO, rate=10, batch_interval_s=10)

    task = asyncio.create_task(collect(feed))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await feed.stop()
    await asyncio.wait_for(task, timeout=1)

    assert time.monotonic() - started < 0.5


def test_unknown_symbol_is_refused_at_construction(catalog):
    with pytest.raises(UnknownInstrument):
        SimulatedFeed(catalog, ["NOSUCH"])
