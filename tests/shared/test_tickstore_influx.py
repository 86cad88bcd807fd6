"""InfluxDB adapter: outages are absorbed by a bounded buffer that drains on return."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from shared.tickstore import InfluxTickStore, TickStoreUnavailable
from tests.servers import InfluxServer
from tests.shared.test_tickstore import MS, T0_NS, candle, ticks

pytestmark = pytest.mark.service
_db_seq = itertools.count(1)


@pytest.fixture
def own_influx() -> Iterator[InfluxServer]:
    """An InfluxDB this test may stop and restart."""
    with InfluxServer() as server:
        yield server


def new_store(server: InfluxServer, **options: object) -> InfluxTickStore:
    return InfluxTickStore(server.url, f"influx_{next(_db_seq)}", **options)  # type: ignore[arg-type]


async def wait_until(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_start_creates_the_database(influx_server: InfluxServer) -> None:
    store = new_store(influx_server)

    await store.start()
    await store.close()

    resp = httpx.get(f"{influx_server.url}/query", params={"q": "SHOW DATABASES"})
    assert [store.database] in resp.json()["results"][0]["series"][0]["values"]


async def test_background_flusher_writes_without_explicit_flush(
    influx_server: InfluxServer,
) -> None:
    store = new_store(influx_server, flush_interval=0.05)
    await store.write_ticks(*ticks(["AAA"], 100))

    await wait_until(lambda: store.stats()["written"] == 100)

    assert len(await store.query_ticks("AAA")) == 100
    await store.close()


async def test_ticks_sharing_a_timestamp_are_all_kept(influx_server: InfluxServer) -> None:
    store = new_store(influx_server)
    same = np.full(3, T0_NS, dtype=np.int64)
    syms = np.array(["AAA", "AAA", "BBB"], dtype=object)
    prices = np.array([1.0, 2.0, 3.0])

    await store.write_ticks(syms, same, prices, np.ones(3))
    await store.flush()
    await store.write_ticks(syms[:1], same[:1], np.array([4.0]), np.ones(1))
    await store.flush()

    got = await store.query_ticks("AAA")
    assert list(got.price) == [1.0, 2.0, 4.0]
    assert list(got.ts_ns - T0_NS) == [0, 1, 2]
    await store.close()


async def test_writes_while_influx_is_down_never_raise_and_stay_bounded(
    own_influx: InfluxServer,
) -> None:
    store = new_store(own_influx, max_buffered_ticks=1_000, batch_size=250, flush_interval=0.05)
    await store.start()
    own_influx.stop()

    for k in range(6):
        await store.write_ticks(*ticks(["AAA"], 500, start_ns=T0_NS + k * 500 * MS))
    await store.flush()

    stats = store.stats()
    assert stats["buffered"] == 1_000
    assert stats["buffer_peak"] <= 1_000
    assert stats["shed"] == 2_000
    assert stats["failed_writes"] >= 1
    assert stats["connected"] is False
    await store.close()


async def test_buffer_drains_when_influx_returns(own_influx: InfluxServer) -> None:
    store = new_store(
        own_influx,
        max_buffered_ticks=1_000,
        batch_size=250,
        flush_interval=0.05,
        max_retry_delay=0.2,
    )
    await store.write_ticks(*ticks(["AAA"], 300))
    await store.flush()
    own_influx.kill()
    await store.write_ticks(*ticks(["AAA"], 2_000, start_ns=T0_NS + 300 * MS))
    await asyncio.sleep(0.3)  # the flusher fails at least once meanwhile

    own_influx.start()
    await wait_until(lambda: store.stats()["buffered"] == 0)

    got = await store.query_ticks("AAA")
    expected_newest = [T0_NS + k * MS for k in range(1_300, 2_300)]
    assert len(got) == 300 + 1_000
    assert list(got.ts_ns[300:]) == expected_newest
    assert store.stats()["connected"] is True
    await store.close()


async def test_candles_written_while_down_arrive_after_restart(own_influx: InfluxServer) -> None:
    store = new_store(own_influx, flush_interval=0.05, max_retry_delay=0.2)
    await store.start()
    own_influx.stop()
    await store.write_candles([candle("AAA", m) for m in range(3)])
    await store.flush()
    assert store.stats()["buffered_candles"] == 3

    own_influx.start()
    await wait_until(lambda: store.stats()["buffered_candles"] == 0)

    assert len(await store.query_candles("AAA", candle("AAA", 0).timeframe)) == 3
    await store.close()


async def test_queries_while_influx_is_down_raise_unavailable(own_influx: InfluxServer) -> None:
    store = new_store(own_influx)
    await store.start()
    own_influx.stop()

    with pytest.raises(TickStoreUnavailable):
        await store.query_ticks("AAA")
    await store.close()


async def test_latest_tick_is_answered_from_memory_while_influx_is_down(
    own_influx: InfluxServer,
) -> None:
    store = new_store(own_influx)
    sym, ts, price, qty = ticks(["AAA"], 5)
    await store.write_ticks(sym, ts, price, qty)
    own_influx.stop()

    latest = await store.latest_tick("AAA")

    assert latest is not None and latest.price == price[-1]
    await store.close()


async def test_a_new_store_reads_the_latest_tick_from_influx(influx_server: InfluxServer) -> None:
    first = new_store(influx_server)
    sym, ts, price, qty = ticks(["AAA"], 5)
    await first.write_ticks(sym, ts, price, qty)
    await first.close()

    second = InfluxTickStore(influx_server.url, first.database)
    latest = await second.latest_tick("AAA")

    assert latest is not None and latest.price == price[-1]
    await second.close()


async def test_points_influx_refuses_are_counted_and_not_resent(
    influx_server: InfluxServer,
) -> None:
    store = new_store(influx_server)
    await store.start()
    conflicting = f'ticks,symbol=AAA price="text" {T0_NS - MS}'  # price becomes a string field
    httpx.post(
        f"{influx_server.url}/write", params={"db": store.database}, content=conflicting
    ).raise_for_status()

    await store.write_ticks(*ticks(["AAA"], 4))
    await store.flush()

    stats = store.stats()
    assert (stats["rejected"], stats["written"], stats["buffered"]) == (4, 0, 0)
    await store.close()


async def test_a_store_that_only_reads_sees_new_ticks_once_its_copy_is_older_than_the_ttl(
    influx_server: InfluxServer,
) -> None:
    writer = new_store(influx_server)  # the market data engine
    reader = InfluxTickStore(influx_server.url, writer.database, latest_ttl=0.2)  # the API
    await writer.write_ticks(*ticks(["AAA"], 3))
    await writer.flush()
    first = await reader.latest_tick("AAA")
    sym, ts, price, qty = ticks(["AAA"], 1, start_ns=T0_NS + 60_000 * MS, seed=11)
    await writer.write_ticks(sym, ts, price + 1000, qty)
    await writer.flush()

    within_ttl = await reader.latest_tick("AAA")
    await asyncio.sleep(0.3)
    after_ttl = await reader.latest_tick("AAA")

    assert first is not None and within_ttl == first
    assert after_ttl is not None and after_ttl.price == price[0] + 1000
    assert after_ttl.ts > first.ts
    await writer.close()
    await reader.close()


async def test_concurrent_readers_of_a_stale_price_share_one_query(
    influx_server: InfluxServer,
) -> None:
    writer = new_store(influx_server)
    await writer.write_ticks(*ticks(["AAA"], 3))
    await writer.flush()
    reader = InfluxTickStore(influx_server.url, writer.database, latest_ttl=60)
    queries = 0
    query = reader.query_ticks

    async def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal queries
        queries += 1
        return await query(*args, **kwargs)

    reader.query_ticks = counted  # type: ignore[method-assign]

    got = await asyncio.gather(*(reader.latest_tick("AAA") for _ in range(50)))

    assert queries == 1 and len({t.price for t in got if t is not None}) == 1
    await writer.close()
    await reader.close()
