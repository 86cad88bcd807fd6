"""The candle cache merges stored history under the candles it holds, on both adapters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.candle_cache import InProcessCandleCache, MergingCandleCache
from shared.candle_cache_redis import RedisCandleCache
from shared.contracts import CandleMsg, Timeframe
from shared.redis_client import create_redis

T0 = datetime(2026, 12, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def minute(i: int, close: float) -> CandleMsg:
    start = T0 + i * MINUTE
    prices = {"open": close, "high": close, "low": close, "close": close}
    return CandleMsg(
        symbol="BTCUSDT", timeframe=Timeframe.M1, start=start, end=start + MINUTE, **prices,
        volume=1.0, trades=1,
    )  # fmt: skip


def minutes(first: int, n: int, close: float = 1.0) -> list[CandleMsg]:
    return [minute(i, close) for i in range(first, first + n)]


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.service)])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[MergingCandleCache]:
    if request.param == "in-process":
        yield InProcessCandleCache(depth=50)
        return
    server = request.getfixturevalue("redis_server")
    client = create_redis(host=server.host, port=server.port)
    await client.flushdb()
    try:
        yield RedisCandleCache(client, depth=50)
    finally:
        await client.aclose()


async def _series(cache: MergingCandleCache) -> list[CandleMsg]:
    return await cache.recent("BTCUSDT", Timeframe.M1, 1000)


async def test_history_goes_under_the_live_candles_which_stay(cache):
    live = minutes(100, 3, close=2.0)
    await cache.push(live)

    added = await cache.merge("BTCUSDT", Timeframe.M1, minutes(60, 42))  # 60..101

    series = await _series(cache)
    assert added == 40 and len(series) == 43
    assert [c.start for c in series] == [T0 + i * MINUTE for i in range(60, 103)]
    assert series[-3:] == live  # the cached candles win where both have a start


async def test_the_newest_depth_candles_are_kept_and_a_second_merge_adds_nothing(cache):
    await cache.merge("BTCUSDT", Timeframe.M1, minutes(0, 80))

    again = await cache.merge("BTCUSDT", Timeframe.M1, minutes(0, 80))

    series = await _series(cache)
    assert again == 0
    assert [c.start for c in series] == [T0 + i * MINUTE for i in range(30, 80)]


async def test_candles_pushed_during_merges_are_never_lost(cache):
    live = minutes(200, 30, close=3.0)

    async def engine() -> None:
        for candle in live:
            await cache.push([candle])
            await asyncio.sleep(0)

    async def downloads() -> None:
        for first in range(0, 200, 10):
            await cache.merge("BTCUSDT", Timeframe.M1, minutes(first, 10))

    await asyncio.gather(engine(), downloads())

    series = await _series(cache)
    starts = [c.start for c in series]
    assert starts == sorted(set(starts))
    assert series[-30:] == live


async def test_a_merge_completes_while_the_engine_pushes_without_pause(cache):
    """An engine pushing between every read and write of a merge neither makes the merge
    give up nor loses a pushed candle."""
    cache.depth = 5000  # room for the whole history and every live candle
    history = minutes(0, 200)
    pushed: list[CandleMsg] = []
    merging = True

    async def engine() -> None:
        i = 10_000
        while merging:
            candle = minute(i, close=3.0)
            await cache.push([candle])
            pushed.append(candle)
            i += 1
            await asyncio.sleep(0)

    async def downloads() -> None:
        nonlocal merging
        try:
            for first in range(180, -1, -20):  # newest chunk first, as a backfill goes
                await cache.merge("BTCUSDT", Timeframe.M1, history[first : first + 20])
        finally:
            merging = False

    await asyncio.gather(engine(), downloads())

    series = await cache.recent("BTCUSDT", Timeframe.M1, 5000)
    assert [c.start for c in series] == [c.start for c in [*history, *pushed]]
    assert series[200:] == pushed
