"""Tick store benchmark: ticks/s into a real InfluxDB, and buffer memory while it is down.

``measure_tickstore(quick)`` starts its own throwaway ``influxd`` (from the test
suite's server launcher) and returns metrics for a benchmark module to report.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import httpx
import numpy as np

from bench._core import Metric

TARGET_TICKS_PER_S = 200_000
FEED_BATCH = 10_000  # ticks per write_ticks call, as the market data engine hands them over
SYMBOLS = 500
MEMORY_SLACK = 1.5  # RSS growth allowed, as a multiple of the configured buffer bound


def measure_tickstore(quick: bool) -> list[Metric]:
    """Run the tick store measurements against a throwaway InfluxDB; see module docstring."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    from tests.servers import InfluxServer

    n = 200_000 if quick else 1_000_000
    repeats = 1 if quick else 3
    data = make_ticks(n)
    with InfluxServer() as server:
        return asyncio.run(_measure(server, data, repeats, quick))


def make_ticks(n: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n deterministic ticks over SYMBOLS symbols, 1 us apart, prices on a 0.05 grid."""
    rng = np.random.default_rng(seed)
    names = np.array([f"SYM{i:04d}" for i in range(SYMBOLS)], dtype=object)
    symbols = names[rng.integers(0, SYMBOLS, n)]
    ts = 1_704_067_200_000_000_000 + np.arange(n, dtype=np.int64) * 1_000
    prices = np.round(rng.uniform(50, 5_000, n) * 20) / 20
    qtys = rng.integers(1, 1_000, n).astype(np.float64)
    return symbols, ts, prices, qtys


async def _measure(server, data, repeats: int, quick: bool) -> list[Metric]:  # type: ignore[no-untyped-def]
    from shared.tickstore._lineproto import encode_ticks
    from shared.tickstore.base import TickColumns

    n = len(data[1])
    body = encode_ticks(TickColumns(*data))
    adapter, reference = [], []
    for run in range(repeats):
        reference.append(n / await _bulk_post(server.url, f"bench_ref_{run}", body))
        adapter.append(n / await _through_adapter(server.url, f"bench_store_{run}", data))
    encode_rate, python_rate = _encode_rates(data)
    memory = await _memory_while_down(server, quick)
    value, ref = statistics.median(adapter), statistics.median(reference)
    return [
        Metric(
            "tickstore_ticks_per_s",
            value,
            "ticks/s",
            reference="one bulk line-protocol POST of the same ticks (httpx)",
            reference_value=ref,
            target=">= 200k ticks/s",
            met=value >= TARGET_TICKS_PER_S,
        ),
        Metric(
            "tickstore_encode_lines_per_s",
            encode_rate,
            "lines/s",
            reference="per-line Python f-string formatting",
            reference_value=python_rate,
        ),
        memory,
    ]


async def _bulk_post(url: str, database: str, body: bytes) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        await client.post("/query", params={"q": f'CREATE DATABASE "{database}"'})
        t0 = time.perf_counter()
        resp = await client.post("/write", params={"db": database, "precision": "ns"}, content=body)
        elapsed = time.perf_counter() - t0
    resp.raise_for_status()
    return elapsed


async def _through_adapter(url: str, database: str, data) -> float:  # type: ignore[no-untyped-def]
    from shared.tickstore import InfluxTickStore

    symbols, ts, prices, qtys = data
    store = InfluxTickStore(url, database, batch_size=25_000, flush_interval=0.05)
    await store.start()
    t0 = time.perf_counter()
    for i in range(0, len(ts), FEED_BATCH):
        sl = slice(i, i + FEED_BATCH)
        await store.write_ticks(symbols[sl], ts[sl], prices[sl], qtys[sl])
        await asyncio.sleep(0)  # a feed yields between batches; the flusher runs meanwhile
    await store.flush()
    elapsed = time.perf_counter() - t0
    stats = store.stats()
    await store.close()
    if stats["written"] != len(ts) or stats["buffered"]:
        raise RuntimeError(f"tick store did not write everything: {stats}")
    return elapsed


def _encode_rates(data) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    from shared.tickstore._lineproto import encode_ticks
    from shared.tickstore.base import TickColumns

    cols = TickColumns(*(a[:100_000] for a in data))
    t0 = time.perf_counter()
    encode_ticks(cols)
    fast = len(cols) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    columns = (cols.symbol.tolist(), cols.price.tolist(), cols.qty.tolist(), cols.ts_ns.tolist())
    rows = zip(*columns, strict=True)
    "\n".join(f"ticks,symbol={s} price={p!r},qty={q!r} {t}" for s, p, q, t in rows).encode()
    slow = len(cols) / (time.perf_counter() - t0)
    return fast, slow


async def _memory_while_down(server, quick: bool) -> Metric:  # type: ignore[no-untyped-def]
    from shared.tickstore import InfluxTickStore
    from shared.tickstore._buffer import BYTES_PER_TICK

    bound = 200_000 if quick else 1_000_000
    symbols, ts, prices, qtys = make_ticks(3 * bound, seed=7)
    server.stop()
    quiet = logging.getLogger("shared.tickstore")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the outage is intended: no warnings in the table output
    store = InfluxTickStore(server.url, "bench_down", max_buffered_ticks=bound, max_retry_delay=0.5)
    # tracemalloc sees Python and numpy allocations, unlike RSS, which allocator reuse hides.
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(0, len(ts), FEED_BATCH):
        sl = slice(i, i + FEED_BATCH)
        await store.write_ticks(symbols[sl], ts[sl], prices[sl], qtys[sl])
        await asyncio.sleep(0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    stats = store.stats()
    await store.close()
    quiet.setLevel(level)
    server.start()
    bound_mb = bound * BYTES_PER_TICK / 1e6
    grown_mb = (peak - base) / 1e6
    held = stats["buffer_peak"] <= bound and stats["shed"] == 2 * bound
    return Metric(
        "buffer_peak_mb_while_down",
        grown_mb,
        "MB",
        reference=f"configured bound ({bound:,} ticks x {BYTES_PER_TICK} B)",
        reference_value=bound_mb,
        target=f"<= {MEMORY_SLACK}x the configured bound; oldest shed",
        met=held and grown_mb <= MEMORY_SLACK * bound_mb,
    )
