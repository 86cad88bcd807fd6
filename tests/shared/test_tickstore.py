"""The same tick store behaviour on both adapters: local (embedded) and InfluxDB (real server)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from shared.contracts import CandleMsg, Timeframe
from shared.tickstore import TickStore, create_tickstore, from_ns, to_ns
from tests.servers import InfluxServer

T0 = datetime(2024, 1, 2, 3, 45, tzinfo=UTC)
T0_NS = to_ns(T0)
MS = 1_000_000
_db_seq = itertools.count(1)


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def ticks(
    symbols: list[str], n: int, step_ns: int = MS, start_ns: int = T0_NS, seed: int = 7
) -> Arrays:
    """n ticks cycling through ``symbols``, one every ``step_ns``; prices on a 0.05 grid."""
    rng = np.random.default_rng(seed)
    sym = np.array([symbols[i % len(symbols)] for i in range(n)], dtype=object)
    ts = start_ns + np.arange(n, dtype=np.int64) * step_ns
    price = np.round(rng.uniform(100, 200, n) * 20) / 20
    qty = rng.integers(1, 100, n).astype(np.float64)
    return sym, ts, price, qty


def candle(
    symbol: str, minute: int, tf: Timeframe = Timeframe.M1, close: float = 101.0
) -> CandleMsg:
    start = T0 + timedelta(minutes=minute)
    return CandleMsg(
        symbol=symbol,
        timeframe=tf,
        start=start,
        end=start + timedelta(minutes=1),
        open=100.0,
        high=102.5,
        low=99.25,
        close=close,
        volume=1234.0,
        trades=17,
    )


@pytest.fixture(
    params=["local", pytest.param("influx", marks=pytest.mark.service)],
)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[TickStore]:
    if request.param == "influx":
        server: InfluxServer = request.getfixturevalue("influx_server")
        st = create_tickstore(
            "influx", url=server.url, database=f"behaviour_{next(_db_seq)}", flush_interval=0.05
        )
    else:
        st = create_tickstore("local")
    await st.start()
    yield st
    await st.close()


async def test_ticks_come_back_for_their_symbol_in_time_order(store: TickStore) -> None:
    sym, ts, price, qty = ticks(["AAA", "BBB"], 200)
    shuffled = np.random.default_rng(1).permutation(200)

    await store.write_ticks(sym[shuffled], ts[shuffled], price[shuffled], qty[shuffled])
    await store.flush()
    got = await store.query_ticks("AAA")

    mine = sym == "AAA"
    assert list(got.ts_ns) == list(ts[mine])
    assert list(got.price) == list(price[mine])
    assert list(got.qty) == list(qty[mine])
    assert set(got.symbol) == {"AAA"}


async def test_tick_query_range_includes_start_and_excludes_end(store: TickStore) -> None:
    await store.write_ticks(*ticks(["AAA"], 10))
    await store.flush()

    got = await store.query_ticks("AAA", from_ns(T0_NS + 2 * MS), from_ns(T0_NS + 5 * MS))

    assert list(got.ts_ns) == [T0_NS + k * MS for k in (2, 3, 4)]


async def test_tick_query_limit_returns_the_latest_ticks_ascending(store: TickStore) -> None:
    await store.write_ticks(*ticks(["AAA"], 50))
    await store.flush()

    got = await store.query_ticks("AAA", limit=5)

    assert list(got.ts_ns) == [T0_NS + k * MS for k in range(45, 50)]


async def test_unknown_symbol_has_no_ticks_and_no_latest_tick(store: TickStore) -> None:
    await store.write_ticks(*ticks(["AAA"], 3))
    await store.flush()

    assert len(await store.query_ticks("ZZZ")) == 0
    assert await store.latest_tick("ZZZ") is None


async def test_latest_tick_is_the_newest_tick_of_the_symbol(store: TickStore) -> None:
    sym, ts, price, qty = ticks(["AAA", "BBB"], 21)
    await store.write_ticks(sym[::-1], ts[::-1], price[::-1], qty[::-1])
    await store.flush()

    latest = await store.latest_tick("AAA")

    newest = int(np.flatnonzero(sym == "AAA").max())
    assert latest is not None
    assert (latest.symbol, latest.price, latest.qty) == ("AAA", price[newest], qty[newest])
    assert latest.ts == from_ns(int(ts[newest]))


async def test_ticks_with_nan_or_infinite_values_are_dropped_and_counted(store: TickStore) -> None:
    sym, ts, price, qty = ticks(["AAA"], 5)
    price[1] = np.nan
    qty[3] = np.inf

    await store.write_ticks(sym, ts, price, qty)
    await store.flush()

    got = await store.query_ticks("AAA")
    assert list(got.ts_ns) == [ts[0], ts[2], ts[4]]
    assert store.stats()["dropped_invalid"] == 2


async def test_columns_of_different_lengths_are_refused(store: TickStore) -> None:
    sym, ts, price, qty = ticks(["AAA"], 5)

    with pytest.raises(ValueError, match="equal lengths"):
        await store.write_ticks(sym, ts[:4], price, qty)


async def test_candles_come_back_ascending_with_every_field(store: TickStore) -> None:
    written = [candle("AAA", m) for m in (2, 0, 1)]

    await store.write_candles(written)
    await store.flush()
    got = await store.query_candles("AAA", Timeframe.M1)

    assert got == sorted(written, key=lambda c: c.start)


async def test_rewritten_candle_replaces_the_earlier_version(store: TickStore) -> None:
    await store.write_candles([candle("AAA", 0, close=101.0), candle("AAA", 1)])
    await store.write_candles([candle("AAA", 0, close=105.5)])
    await store.flush()

    got = await store.query_candles("AAA", Timeframe.M1)

    assert [c.close for c in got] == [105.5, 101.0]


async def test_candle_query_respects_range_limit_and_timeframe(store: TickStore) -> None:
    await store.write_candles([candle("AAA", m) for m in range(10)])
    await store.write_candles([candle("AAA", 0, tf=Timeframe.M5), candle("BBB", 3)])
    await store.flush()

    in_range = await store.query_candles(
        "AAA", Timeframe.M1, T0 + timedelta(minutes=2), T0 + timedelta(minutes=8), limit=3
    )
    five = await store.query_candles("AAA", Timeframe.M5)

    assert [c.start for c in in_range] == [T0 + timedelta(minutes=m) for m in (5, 6, 7)]
    assert [(c.timeframe, c.start) for c in five] == [(Timeframe.M5, T0)]


async def test_symbols_needing_escapes_round_trip(store: TickStore) -> None:
    names = ["NIFTY 50", "A,B=C", "O'NEIL"]
    await store.write_ticks(*ticks(names, 6))
    await store.write_candles([candle("NIFTY 50", 0)])
    await store.flush()

    counts = [len(await store.query_ticks(name)) for name in names]
    candles = await store.query_candles("NIFTY 50", Timeframe.M1)

    assert counts == [2, 2, 2]
    assert [c.symbol for c in candles] == ["NIFTY 50"]


async def test_stats_count_written_ticks_and_candles(store: TickStore) -> None:
    await store.write_ticks(*ticks(["AAA", "BBB"], 30))
    await store.write_candles([candle("AAA", 0), candle("AAA", 1)])
    await store.flush()

    stats = store.stats()

    assert (stats["written"], stats["written_candles"]) == (30, 2)
    assert (stats["buffered"], stats["shed"]) == (0, 0)
