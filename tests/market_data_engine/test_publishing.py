"""While the bus fails, the market data service drops its pub/sub events without paying the
bus client's connect retries on every batch, and publishes again once the bus answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from market_data_engine.candles.engine import CandleEngine
from market_data_engine.feeds.simulated import SimulatedFeed
from market_data_engine.publishing import EventPublisher
from market_data_engine.service import MarketDataService
from market_data_engine.ticks import TickBatch
from market_data_engine.validation import TickValidator
from shared.bus import InProcessEventBus
from shared.candle_cache import InProcessCandleCache
from shared.clock import EventClock
from shared.contracts import Message, Timeframe
from shared.instruments import load_catalog
from shared.tickstore import create_tickstore

OPEN = datetime(2026, 11, 20, 3, 45, tzinfo=UTC)  # Friday 09:15 IST
ONE = np.array(["INFY"], dtype=object)


class DownBus(InProcessEventBus):
    """A bus that fails while ``down`` (as a Redis client does after its retries)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.attempts = 0
        self.published: list[tuple[str, Message]] = []

    async def publish_many(self, items: Sequence[tuple[str, Message]]) -> None:
        self.attempts += 1
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.published.extend(items)
        await super().publish_many(items)


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def service(bus: DownBus, monotonic: Ticker) -> MarketDataService:
    catalog = load_catalog()
    svc = MarketDataService(
        SimulatedFeed(catalog, ["INFY"], seed=1, realtime=False, start=OPEN, max_ticks=1),
        validator=TickValidator(catalog),
        engine=CandleEngine(catalog.calendar),
        tickstore=create_tickstore("local"),
        bus=bus,
        candle_cache=InProcessCandleCache(),
        clock=EventClock(OPEN),
        live_clock=False,
    )
    svc.publisher = EventPublisher(bus, "simulated", monotonic=monotonic)
    return svc


def batch(second: int, price: float) -> TickBatch:
    t = int((OPEN + timedelta(seconds=second)).timestamp() * 1e9)
    return TickBatch(ONE, np.array([t]), np.array([price]), np.array([1.0]))


async def test_a_failing_bus_is_tried_once_per_back_off_not_once_per_batch():
    bus, clock = DownBus(), Ticker()
    svc = service(bus, clock)
    bus.down = True
    for s in range(1, 51):  # 50 batches within the first back-off
        await svc.process(batch(s, 1500.0 + s))
    assert bus.attempts == 1
    assert svc.publisher.dropped == 50
    clock.now += 0.6  # the first back-off (0.5 s) is over: one more try, which fails
    await svc.process(batch(52, 1552.0))
    assert bus.attempts == 2
    bus.down = False
    await svc.process(batch(53, 1553.0))  # still backing off (1 s now): dropped untried
    assert bus.attempts == 2
    clock.now += 1.1
    await svc.process(batch(63, 1563.0))  # closes minute 0: its candle event, then the tick
    assert bus.attempts == 4  # the candle events, then the tick
    assert [channel for channel, _ in bus.published] == ["md:candles:INFY:1m", "md:ticks:INFY"]
    assert bus.published[0][1].model_dump()["close"] == 1553.0
    await svc.process(batch(64, 1564.0))
    assert bus.attempts == 5  # back to one publish per batch


async def test_candles_close_and_are_stored_while_every_publish_fails():
    bus, clock = DownBus(), Ticker()
    svc = service(bus, clock)
    bus.down = True
    closed = []
    for minute in range(5):
        clock.now += 20.0  # every batch tries the bus again, and fails
        closed += await svc.process(batch(minute * 60 + 5, 1500.0 + minute))
    assert bus.attempts == 5
    stored = await svc.tickstore.query_candles("INFY", Timeframe.M1)
    assert [c.close for c in stored] == [1500.0, 1501.0, 1502.0, 1503.0]
    assert [c.close for c in closed if c.timeframe is Timeframe.M1] == [c.close for c in stored]
