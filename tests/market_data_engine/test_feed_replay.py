"""Replay of recorded ticks and bars: formats, speed modes and the bar-to-tick convention."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from market_data_engine.feeds._files import RecordedDataError
from market_data_engine.feeds.replay import ReplayFeed
from market_data_engine.ticks import TickBatch

FIXTURES = Path(__file__).parent / "fixtures"
TICKS_CSV = FIXTURES / "ticks_sample.csv"
BARS_CSV = FIXTURES / "bars_1m_sample.csv"


async def collect(feed: ReplayFeed) -> TickBatch:
    return TickBatch.concat([b async for b in feed])


async def arrivals(feed: ReplayFeed) -> list[tuple[float, TickBatch]]:
    start = time.monotonic()
    return [(time.monotonic() - start, b) async for b in feed]


async def test_fast_replay_yields_every_recorded_tick_in_time_order():
    ticks = await collect(ReplayFeed(TICKS_CSV))

    source = pl.read_csv(TICKS_CSV)
    assert len(ticks) == source.height
    assert (np.diff(ticks.ts_ns) > 0).all()
    assert ticks.price.tolist() == source["price"].to_list()


async def test_timestamps_with_an_ist_offset_are_read_as_utc_instants():
    ticks = await collect(ReplayFeed(TICKS_CSV))

    first = datetime.fromtimestamp(ticks.ts_ns[0] / 1e9, UTC)
    assert first == datetime(2025, 11, 21, 4, 0, tzinfo=UTC)


async def test_fast_replay_yields_batches_of_at_most_batch_size():
    batches = [b async for b in ReplayFeed(TICKS_CSV, batch_size=5)]

    assert [len(b) for b in batches] == [5, 5, 2]


async def test_feed_symbols_are_those_in_the_recording():
    feed = ReplayFeed(TICKS_CSV)

    await feed.start()

    assert feed.symbols == ("INFY", "RELIANCE")


async def test_symbols_filter_keeps_only_those_symbols():
    ticks = await collect(ReplayFeed(TICKS_CSV, symbols=["INFY"]))

    assert set(ticks.symbol.tolist()) == {"INFY"}


async def test_recorded_speed_takes_as_long_as_the_recording():
    ticks = await collect(ReplayFeed(TICKS_CSV))
    span = (ticks.ts_ns[-1] - ticks.ts_ns[0]) / 1e9

    started = time.monotonic()
    await collect(ReplayFeed(TICKS_CSV, speed=1.0))

    assert time.monotonic() - started >= span * 0.95


async def test_a_speed_multiplier_delivers_no_tick_before_its_scaled_due_time():
    speed = 4.0

    got = await arrivals(ReplayFeed(TICKS_CSV, speed=speed))

    for at, batch in got:
        due = (batch.ts_ns.max() - got[0][1].ts_ns[0]) / 1e9 / speed
        assert at >= due - 0.005


async def test_a_speed_multiplier_finishes_faster_than_recorded_speed():
    started = time.monotonic()
    await collect(ReplayFeed(TICKS_CSV, speed=6.0))

    assert time.monotonic() - started < 0.45  # the recording spans 0.6 s


async def test_parquet_and_csv_recordings_give_the_same_ticks(tmp_path):
    parquet = tmp_path / "ticks.parquet"
    df = pl.read_csv(TICKS_CSV)
    df = df.with_columns(df["ts"].str.to_datetime(time_unit="us"))
    df.write_parquet(parquet)

    from_csv = await collect(ReplayFeed(TICKS_CSV))
    from_parquet = await collect(ReplayFeed(parquet))

    assert np.array_equal(from_csv.ts_ns, from_parquet.ts_ns)
    assert np.array_equal(from_csv.price, from_parquet.price)


async def test_integer_epoch_milliseconds_are_recognised(tmp_path):
    path = tmp_path / "ms.csv"
    path.write_text("symbol,timestamp,price,quantity\nBTCUSDT,1763712000123,95000.01,0.5\n")

    ticks = await collect(ReplayFeed(path))

    assert ticks.ts_ns.tolist() == [1_763_712_000_123_000_000]
    assert ticks.qty.tolist() == [0.5]


async def test_integer_epoch_nanoseconds_are_kept_exactly(tmp_path):
    path = tmp_path / "ns.csv"
    path.write_text("symbol,ts,price\nBTCUSDT,1763712000123456789,95000.01\n")

    ticks = await collect(ReplayFeed(path))

    assert ticks.ts_ns.tolist() == [1_763_712_000_123_456_789]


async def test_naive_timestamps_are_read_in_the_given_time_zone(tmp_path):
    path = tmp_path / "naive.csv"
    path.write_text("symbol,ts,price,qty\nINFY,2025-11-21 09:30:00,1550.05,1\n")

    ticks = await collect(ReplayFeed(path, tz="Asia/Kolkata"))

    assert ticks.ts_ns[0] == int(datetime(2025, 11, 21, 4, 0, tzinfo=UTC).timestamp()) * 10**9


async def test_a_file_without_a_symbol_column_takes_the_given_symbol(tmp_path):
    path = tmp_path / "infy.csv"
    path.write_text("ts,price,qty\n2025-11-21T04:00:00Z,1550.05,1\n")

    ticks = await collect(ReplayFeed(path, symbol="INFY"))

    assert ticks.symbol.tolist() == ["INFY"]


async def test_a_file_without_prices_or_bars_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("symbol,ts,foo\nINFY,2025-11-21T04:00:00Z,1\n")

    with pytest.raises(RecordedDataError):
        await ReplayFeed(path).start()


async def test_rebase_moves_the_recording_to_start_at_the_given_instant():
    target = datetime(2026, 1, 5, 3, 45, tzinfo=UTC)
    original = await collect(ReplayFeed(TICKS_CSV))

    rebased = await collect(ReplayFeed(TICKS_CSV, rebase_to=target))

    assert rebased.ts_ns[0] == int(target.timestamp()) * 10**9
    assert np.array_equal(np.diff(rebased.ts_ns), np.diff(original.ts_ns))


async def test_stop_interrupts_a_long_gap_in_a_recording(tmp_path):
    path = tmp_path / "gap.csv"
    path.write_text(
        "symbol,ts,price\nINFY,2025-11-21T04:00:00Z,1550.05\nINFY,2025-11-21T05:00:00Z,1550.10\n"
    )
    feed = ReplayFeed(path, speed=1.0)
    task = asyncio.create_task(collect(feed))
    await asyncio.sleep(0.05)

    started = time.monotonic()
    await feed.stop()
    ticks = await asyncio.wait_for(task, timeout=2)

    assert len(ticks) == 1
    assert time.monotonic() - started < 1.5


async def test_bars_become_four_ticks_each_that_rebuild_the_same_bars():
    bars = pl.read_csv(BARS_CSV)
    bars = bars.with_columns(bars["ts"].str.to_datetime(time_unit="ns"))

    ticks = await collect(ReplayFeed(BARS_CSV))

    rebuilt = (
        ticks.to_polars()
        .group_by("symbol", pl.col("ts").dt.truncate("1m"), maintain_order=True)
        .agg(
            open=pl.col("price").first(),
            high=pl.col("price").max(),
            low=pl.col("price").min(),
            close=pl.col("price").last(),
            volume=pl.col("qty").sum(),
            n=pl.len(),
        )
    )
    assert len(ticks) == 4 * bars.height
    assert rebuilt["n"].to_list() == [4] * bars.height
    expected = bars.sort("ts", "symbol", maintain_order=True)
    got = rebuilt.sort("ts", "symbol", maintain_order=True)
    for col in ("open", "high", "low", "close", "volume"):
        assert got[col].cast(pl.Float64).to_list() == expected[col].cast(pl.Float64).to_list()


async def test_a_down_bar_visits_its_high_before_its_low():
    ticks = await collect(ReplayFeed(BARS_CSV, symbols=["RELIANCE"]))

    second_bar = ticks.price[4:8].tolist()  # 1502.40 -> 1500.75, a down bar
    assert second_bar == [1502.40, 1502.90, 1500.10, 1500.75]


async def test_bar_ticks_sit_at_quarters_of_the_inferred_interval():
    ticks = await collect(ReplayFeed(BARS_CSV, symbols=["INFY"]))

    offsets_s = ((ticks.ts_ns[:4] - ticks.ts_ns[0]) / 1e9).tolist()
    assert offsets_s == [0.0, 15.0, 30.0, 45.0]


async def test_bar_volume_is_split_in_whole_units_that_add_up():
    ticks = await collect(ReplayFeed(BARS_CSV, symbols=["INFY"]))

    first_bar = ticks.qty[:4]
    assert first_bar.sum() == 9403
    assert np.array_equal(first_bar, np.rint(first_bar))


async def test_an_explicit_bar_interval_overrides_the_inferred_one():
    ticks = await collect(ReplayFeed(BARS_CSV, symbols=["INFY"], bar_interval=timedelta(seconds=8)))

    assert ((ticks.ts_ns[1] - ticks.ts_ns[0]) / 1e9) == 2.0


async def test_the_rebase_setting_plays_a_recording_from_the_clock_time():
    from market_data_engine.factory import build_feed
    from shared.clock import EventClock
    from shared.config import Settings
    from shared.instruments import load_catalog

    now = datetime(2026, 1, 5, 3, 45, tzinfo=UTC)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, feed="replay", feed_replay_paths=[str(TICKS_CSV)], feed_replay_rebase=True
    )
    original = await collect(ReplayFeed(TICKS_CSV))

    replayed = await collect(build_feed(settings, load_catalog(), clock=EventClock(now)))

    assert replayed.ts_ns[0] == int(now.timestamp()) * 10**9
    assert np.array_equal(np.diff(replayed.ts_ns), np.diff(original.ts_ns))
