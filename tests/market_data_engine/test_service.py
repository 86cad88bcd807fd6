"""The market data service end to end: feed -> validation -> store -> candles -> bus."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from market_data_engine.candles.engine import CandleEngine
from market_data_engine.feeds.simulated import SimulatedFeed
from market_data_engine.service import MarketDataService
from market_data_engine.ticks import TickBatch
from market_data_engine.validation import TickValidator
from shared.bus import InProcessEventBus
from shared.candle_cache import InProcessCandleCache
from shared.clock import EventClock
from shared.contracts import Timeframe
from shared.instruments import load_catalog
from shared.tickstore import create_tickstore

OPEN = datetime(2026, 11, 20, 3, 45, tzinfo=UTC)  # Friday 09:15 IST


def _service(store, feed=None, on_candles=None):
    catalog = load_catalog()
    return MarketDataService(
        feed
        or SimulatedFeed(
            catalog,
            ["RELIANCE", "INFY"],
            seed=3,
            rate=10,
            realtime=False,
            start=OPEN,
            max_ticks=3000,
            batch_size=500,
        ),
        validator=TickValidator(catalog),
        engine=CandleEngine(catalog.calendar),
        tickstore=store,
        bus=InProcessEventBus(),
        candle_cache=InProcessCandleCache(),
        clock=EventClock(OPEN),
        on_candles=on_candles,
        live_clock=False,
    )


async def _run_feed(service):
    await service.feed.start()
    async for batch in service.feed:
        await service.process(batch)


async def test_candles_are_cached_stored_published_and_handed_to_evaluation():
    store = create_tickstore("local")
    handed = []

    async def on_candles(candles):
        handed.extend(candles)

    service = _service(store, on_candles=on_candles)
    sub = await service.bus.subscribe([], ["md:candles:RELIANCE:*"])
    await _run_feed(service)
    assert handed, "no candle closed"
    first = handed[0]
    assert first.timeframe is Timeframe.M1 and first.start >= OPEN
    cached = await service.candle_cache.recent("RELIANCE", Timeframe.M1, 1000)
    stored = await store.query_candles("RELIANCE", Timeframe.M1)
    published = []
    while (item := await sub.get(wait=0)) is not None:
        published.append(item[1])
    reliance = [c for c in handed if c.symbol == "RELIANCE" and c.timeframe is Timeframe.M1]
    assert cached == reliance == stored
    assert [c for c in published if c.timeframe is Timeframe.M1] == reliance


async def test_bad_ticks_are_counted_and_dropped_without_stopping_the_service():
    store = create_tickstore("local")
    service = _service(store)
    t = int((OPEN + timedelta(seconds=1)).timestamp() * 1e9)
    batch = TickBatch(
        np.array(["INFY", "INFY", "NOPE", "INFY"], dtype=object),
        np.array([t, t + 1, t + 2, t + 3], dtype=np.int64),
        np.array([1500.0, -1.0, 10.0, 1500.05]),
        np.array([1.0, 1.0, 1.0, 1.0]),
    )
    await service.process(batch)
    assert service.ticks_rejected == 2
    assert (await store.latest_tick("INFY")).price == pytest.approx(1500.05)


async def test_ticks_are_published_for_live_subscribers():
    store = create_tickstore("local")
    service = _service(store)
    sub = await service.bus.subscribe(["md:ticks:INFY"])
    t = int((OPEN + timedelta(seconds=1)).timestamp() * 1e9)
    await service.process(
        TickBatch(
            np.array(["INFY"], dtype=object), np.array([t]), np.array([1501.0]), np.array([3.0])
        )
    )
    channel, tick = await asyncio.wait_for(sub.get(wait=1), 2)
    assert channel == "md:ticks:INFY" and tick.price == 1501.0


async def test_a_batch_publishes_the_candles_it_closed_before_its_ticks_and_caches_them_first():
    store = create_tickstore("local")
    seen_in_cache = []

    async def on_candles(candles):  # evaluation finds the candles already cached
        seen_in_cache.extend(await service.candle_cache.recent("INFY", Timeframe.M1, 10))

    service = _service(store, on_candles=on_candles)
    sub = await service.bus.subscribe([], ["md:*"])
    t = int((OPEN + timedelta(seconds=1)).timestamp() * 1e9)
    one = np.array(["INFY"], dtype=object)
    await service.process(TickBatch(one, np.array([t]), np.array([1501.0]), np.array([3.0])))
    await sub.get(wait=1)  # the first batch's tick
    later = t + 125 * 10**9  # past the first minute's end and grace: it closes
    closed = await service.process(
        TickBatch(one, np.array([later]), np.array([1502.0]), np.array([1.0]))
    )

    channels = [(await sub.get(wait=1))[0] for _ in range(len(closed) + 1)]
    assert channels == ["md:candles:INFY:1m", "md:ticks:INFY"]
    assert [c.close for c in seen_in_cache] == [1501.0]


@pytest.mark.service
async def test_candle_history_survives_in_influxdb(influx_server):
    store = create_tickstore("influx", url=influx_server.url, database="svc_test")
    await store.start()
    service = _service(store)
    await _run_feed(service)
    await store.flush()
    rows = await store.query_candles("INFY", Timeframe.M1)
    assert rows and rows == await service.candle_cache.recent("INFY", Timeframe.M1, 1000)
    await store.close()
