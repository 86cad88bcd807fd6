"""The worker's window store: appends new bars locally, re-reads the cache when it missed one."""

from __future__ import annotations

import numpy as np
import pytest

from shared.candle_cache import InProcessCandleCache
from shared.contracts import CandleMsg, Timeframe
from strategy_workers.strategies.base import CandleWindow, to_ns
from strategy_workers.windows import WindowRequest, WindowStore

from .test_service_evaluation import candles

M = ("INFY", Timeframe.M5)


async def load(store: WindowStore, candle: CandleMsg, bars: int) -> CandleWindow:
    return (await store.load({M: WindowRequest(bars, candle)}))[M]


@pytest.fixture
async def cache() -> InProcessCandleCache:
    cache = InProcessCandleCache()
    await cache.push(candles("INFY", 40))
    return cache


async def test_next_candle_is_appended_without_reading_the_history_again(cache):
    store = WindowStore(cache)
    await load(store, candles("INFY", 1, start=39)[0], 20)
    [following] = candles("INFY", 1, start=40)
    await cache.push([following])

    window = await load(store, following, 20)

    assert (store.stats.fetched, store.stats.appended) == (1, 1)
    assert int(window.ts[-1]) == to_ns(following.start) and len(window) == 20


async def test_appended_window_equals_one_read_from_the_cache(cache):
    store = WindowStore(cache)
    await load(store, candles("INFY", 1, start=39)[0], 20)
    [following] = candles("INFY", 1, start=40)
    await cache.push([following])

    appended = await load(store, following, 20)
    fresh = await load(WindowStore(cache), following, 20)

    for name in ("ts", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(appended, name), getattr(fresh, name))


async def test_a_candle_this_process_never_saw_makes_it_read_the_cache(cache):
    store = WindowStore(cache)
    await load(store, candles("INFY", 1, start=39)[0], 20)
    missed, following = candles("INFY", 2, start=40)  # another worker evaluated ``missed``
    await cache.push([missed, following])

    window = await load(store, following, 20)

    assert store.stats.fetched == 2 and store.stats.appended == 0
    assert to_ns(missed.start) in window.ts.tolist()


async def test_candle_not_yet_in_the_cache_is_appended_to_the_window(cache):
    store = WindowStore(cache)
    [announced] = candles("INFY", 1, start=40)  # published before the cache write

    window = await load(store, announced, 10)

    assert int(window.ts[-1]) == to_ns(announced.start) and len(window) == 10


async def test_older_candle_gets_the_bars_up_to_it_even_when_newer_ones_exist(cache):
    store = WindowStore(cache)
    old = candles("INFY", 1, start=15)[0]

    window = await load(store, old, 10)

    assert int(window.ts[-1]) == to_ns(old.start) and len(window) == 10


async def test_asking_for_more_bars_than_kept_reads_the_cache_again(cache):
    store = WindowStore(cache)
    last = candles("INFY", 1, start=39)[0]
    await load(store, last, 5)

    window = await load(store, last, 30)

    assert len(window) == 30 and store.stats.fetched == 2


async def test_a_short_window_is_read_again_and_gets_history_the_cache_gained():
    cache = InProcessCandleCache()
    await cache.push(candles("INFY", 3, start=7))
    store = WindowStore(cache)
    await load(store, candles("INFY", 1, start=9)[0], 10)
    # older history stored meanwhile and merged into the cache (a download)
    await cache.merge("INFY", Timeframe.M5, candles("INFY", 10, start=0))
    [following] = candles("INFY", 1, start=10)
    await cache.push([following])

    window = await load(store, following, 10)

    assert len(window) == 10 and store.stats.appended == 0
    assert int(window.ts[0]) == to_ns(candles("INFY", 1, start=1)[0].start)


async def test_many_appends_past_the_buffer_keep_the_window_exact(cache):
    store = WindowStore(cache)
    await load(store, candles("INFY", 1, start=39)[0], 8)
    for candle in candles("INFY", 30, start=40):
        await cache.push([candle])
        window = await load(store, candle, 8)

    fresh = await load(WindowStore(cache), candle, 8)
    assert store.stats.appended == 30
    for name in ("ts", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(window, name), getattr(fresh, name))
