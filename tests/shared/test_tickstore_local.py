"""Local (embedded) adapter: per-symbol bounds and Parquet persistence."""

from __future__ import annotations

from pathlib import Path

from shared.contracts import Timeframe
from shared.tickstore import LocalTickStore, create_tickstore, tickstore_from_settings
from tests.shared.test_tickstore import MS, T0_NS, candle, ticks


async def test_each_symbol_keeps_only_its_newest_ticks() -> None:
    store = LocalTickStore(max_ticks_per_symbol=100)

    for k in range(5):
        await store.write_ticks(*ticks(["AAA", "BBB"], 200, start_ns=T0_NS + k * 200 * MS))

    got = await store.query_ticks("AAA", limit=1_000)
    assert len(got) == 100
    assert int(got.ts_ns[-1]) == T0_NS + 998 * MS  # AAA has the even-numbered ticks
    assert store.stats()["shed"] == 2 * (500 - 100)


async def test_each_candle_series_keeps_only_its_newest_candles() -> None:
    store = LocalTickStore(max_candles_per_series=4)

    await store.write_candles([candle("AAA", m) for m in range(10)])

    got = await store.query_candles("AAA", Timeframe.M1)
    assert [c.start for c in got] == [candle("AAA", m).start for m in range(6, 10)]


async def test_data_survives_close_and_reopen_from_parquet(tmp_path: Path) -> None:
    first = LocalTickStore(tmp_path)
    sym, ts, price, qty = ticks(["AAA", "BBB"], 40)
    await first.write_ticks(sym, ts, price, qty)
    await first.write_candles([candle("AAA", 0), candle("AAA", 1, tf=Timeframe.H1)])
    await first.close()

    second = LocalTickStore(tmp_path)

    got = await second.query_ticks("BBB")
    assert list(got.ts_ns) == list(ts[sym == "BBB"])
    assert await second.query_candles("AAA", Timeframe.H1) == [candle("AAA", 1, tf=Timeframe.H1)]
    assert (await second.latest_tick("AAA")) == (await first.latest_tick("AAA"))


async def test_flush_without_a_directory_keeps_everything_in_memory() -> None:
    store = LocalTickStore()
    await store.write_ticks(*ticks(["AAA"], 3))

    await store.flush()

    assert len(await store.query_ticks("AAA")) == 3


def test_factory_builds_adapters_by_kind(tmp_path: Path) -> None:
    assert isinstance(create_tickstore("local", path=tmp_path), LocalTickStore)


def test_embedded_settings_choose_the_local_store_under_the_data_dir(tmp_path: Path) -> None:
    from shared.config import Settings

    settings = Settings(_env_file=None, data_dir=tmp_path)

    store = tickstore_from_settings(settings)

    assert isinstance(store, LocalTickStore) and store.path == tmp_path / "ticks"
