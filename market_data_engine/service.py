"""The market data service: feed -> validation -> tick store -> candles -> bus, on event time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

import numpy as np

from market_data_engine.candles.engine import CandleEngine, ClosedCandles
from market_data_engine.delivery import CandleDelivery, CandleHandler
from market_data_engine.feed_watch import FeedWatch
from market_data_engine.feeds.base import Feed
from market_data_engine.publishing import EventPublisher
from market_data_engine.ticks import TickBatch
from market_data_engine.validation import TickValidator
from shared import metrics
from shared.alerts import CHANNEL_FEED_STATUS, FeedStatusMsg
from shared.bus import EventBus
from shared.candle_cache import CandleCache
from shared.clock import Clock
from shared.contracts import CandleMsg, Message, TickMsg, tick_channel
from shared.tickstore import TickStore

log = logging.getLogger(__name__)
__all__ = ["CandleHandler", "MarketDataService"]
STOP_DELIVERY_TIMEOUT = 5.0  # seconds a stopping service keeps trying to hand on candles
QUIET_AFTER = 1.0  # seconds the consumer waits on the feed before the timer may use wall time


class MarketDataService:
    """Runs one feed through the engine; publishes ticks and closed candles.

    Ticks are published on ``md:ticks:SYMBOL`` (pub/sub, may drop); a batch with
    more than ``max_ticks_published_per_symbol`` ticks of one symbol publishes only
    that symbol's last ticks, so a fast feed cannot flood subscribers. Closed
    candles go to the tick store first, then ``md:candles:SYMBOL:TF``, then the
    candle cache and ``on_candles`` (strategy evaluation); the last two are retried
    until they succeed (see ``CandleDelivery``), so a bus outage loses no candle.
    While the bus fails, events are dropped without an attempt for a back-off
    (``EventPublisher``), so the feed is not held up by connect retries.

    The timer closes the candles of quiet symbols. It goes by wall time only while the
    feed is quiet (the consumer has waited ``quiet_after`` seconds for the next batch);
    while batches are being processed, or wait unread behind a slow one, it goes by the
    feed's own latest tick time instead. Ticks that queued up while a dependency stalled
    the consumer are therefore merged when they are read, not dropped as late.
    """

    def __init__(
        self,
        feed: Feed,
        *,
        validator: TickValidator,
        engine: CandleEngine,
        tickstore: TickStore,
        bus: EventBus,
        candle_cache: CandleCache,
        clock: Clock,
        on_candles: CandleHandler | None = None,
        timer_interval: float = 1.0,
        live_clock: bool = True,
        max_ticks_published_per_symbol: int = 50,
        feed_watch: FeedWatch | None = None,
        quiet_after: float = QUIET_AFTER,
    ) -> None:
        self.feed = feed
        self.validator = validator
        self.engine = engine
        self.tickstore = tickstore
        self.bus = bus
        self.candle_cache = candle_cache
        self.clock = clock
        self.delivery = CandleDelivery(candle_cache, on_candles)
        self.publisher = EventPublisher(bus, feed.name)
        self.timer_interval = timer_interval
        self.live_clock = live_clock
        self.max_published = max_ticks_published_per_symbol
        self.feed_watch = feed_watch
        self.quiet_after = quiet_after
        self._waiting_since: float | None = time.monotonic()  # None while a batch is handled
        self.ticks_in = 0
        self.ticks_rejected = 0
        self.candles_closed = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.feed.start()
        self._tasks = [
            asyncio.create_task(self._consume(), name="md-feed"),
            asyncio.create_task(self._timer(), name="md-timer"),
        ]

    async def stop(self) -> None:
        await self.feed.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_DELIVERY_TIMEOUT):
                await self.delivery.retry(now=True)
        if self.delivery.pending:
            log.warning(
                "stopped with %d closed candles not handed to the cache and strategies "
                "(they are in the tick store)",
                self.delivery.pending,
            )
        await self.tickstore.flush()

    async def _consume(self) -> None:
        self._waiting_since = time.monotonic()
        async for batch in self.feed:
            self._waiting_since = None
            try:
                await self.process(batch)
            except Exception:  # one bad batch must not stop the feed
                log.exception("processing a batch of %d ticks failed", len(batch))
            finally:
                self._waiting_since = time.monotonic()

    async def _timer(self) -> None:
        while True:
            await asyncio.sleep(self.timer_interval)
            try:
                await self.close_due(self.timer_horizon())
            except Exception:
                log.exception("closing candles on the timer failed")
            await self.check_feed(self.clock.now())

    def timer_horizon(self) -> datetime:
        """How far the timer may close candles: now if the feed is quiet, else the feed's time.

        A consumer held up (a bus outage, a slow write) leaves ticks unread in the feed;
        closing their candles at wall time would drop them as late, the whole candle with
        them. Until the consumer has caught up and waited ``quiet_after`` seconds, the
        timer goes no further than the newest tick the engine has seen.
        """
        now = self.clock.now()
        waiting = self._waiting_since
        if waiting is not None and time.monotonic() - waiting >= self.quiet_after:
            return now
        seen = self.engine.event_time()
        return now if seen is None else min(now, seen)

    async def check_feed(self, now: datetime) -> None:
        """Tell the feed stale if it has been quiet too long while a market is open."""
        if self.feed_watch is not None:
            await self._feed_status(self.feed_watch.check(now))

    async def _feed_status(self, message: FeedStatusMsg | None) -> None:
        """Tell the platform the feed went stale or is back (pub/sub: may drop)."""
        if message is None:
            return
        log.warning("feed %s is %s: %s", message.feed, message.state, message.detail)
        try:
            await self.bus.publish(CHANNEL_FEED_STATUS, message)
        except Exception:
            log.exception("publishing the status of feed %s failed", message.feed)

    async def close_due(self, now: datetime) -> list[CandleMsg]:
        """Close and publish every candle whose bucket end + grace <= ``now`` (quiet feeds);
        retry handing on earlier candles that are still waiting."""
        closed = self.engine.on_timer(now)
        await self._hand_on(closed)
        self.engine.settle()
        await self.delivery.retry()
        return closed

    async def process(self, batch: TickBatch) -> list[CandleMsg]:
        """Validate, store, build candles and publish one batch; return the closed candles."""
        now = self.clock.now() if self.live_clock else None
        result = self.validator.validate(batch, now)
        valid = result.valid
        self.ticks_in += len(batch)
        self.ticks_rejected += len(batch) - len(valid)
        metrics.TICKS.labels(self.feed.name).inc(len(batch))
        if len(batch) > len(valid):
            metrics.TICKS_REJECTED.labels(self.feed.name).inc(len(batch) - len(valid))
        if len(valid) == 0:
            return []
        if self.feed_watch is not None:
            await self._feed_status(self.feed_watch.on_ticks(now or self.clock.now()))
        await self.tickstore.write_ticks(valid.symbol, valid.ts_ns, valid.price, valid.qty)
        closed = self.engine.ingest(valid)
        await self._hand_on(closed)  # candles the batch closed come before its ticks
        self.engine.settle()
        await self.publisher.publish_many(self._tick_messages(valid))
        return closed

    def _tick_messages(self, batch: TickBatch) -> list[tuple[str, Message]]:
        keep = _last_per_symbol(batch.symbol, self.max_published)
        return [
            (
                tick_channel(str(s)),
                TickMsg(
                    symbol=str(s),
                    ts=datetime.fromtimestamp(int(t) / 1e9, UTC),
                    price=float(p),
                    qty=float(q),
                ),
            )
            for s, t, p, q in zip(
                batch.symbol[keep],
                batch.ts_ns[keep],
                batch.price[keep],
                batch.qty[keep],
                strict=True,
            )
        ]

    async def _hand_on(self, closed: ClosedCandles) -> None:
        """History first, then the events, then the candle cache and strategy evaluation.

        The tick store buffers and never raises on an outage, so no candle depends on the
        bus being up. Pub/sub events may drop (at most once, as for ticks; ``EventPublisher``
        never raises). The cache and ``on_candles`` are handed the burst through
        ``CandleDelivery``, which retries them in order; evaluation reads windows from
        the cache, so the cache comes first. The embedded evaluator listens on the bus
        instead, but in that profile store, bus and cache are in-process: its consumer
        runs only once this service yields to the event loop, and nothing yields before
        the cache holds the candles. The engine leaves its own bookkeeping for
        ``settle``, which the caller runs afterwards.
        """
        if not closed:
            return
        closed.closed_at = self.clock.now()
        await self.tickstore.write_candles(closed)
        self.candles_closed += len(closed)
        _observe_lag(self.feed.name, closed)
        await self.publisher.publish_many(closed.events())
        await self.delivery.hand_on(closed)


def _observe_lag(feed: str, closed: ClosedCandles) -> None:
    """Candles closed, and how long after its end the last candle of each timeframe closed."""
    assert closed.closed_at is not None
    last: dict[str, float] = {}
    for candle in closed:
        metrics.CANDLES_CLOSED.labels(feed, candle.timeframe.value).inc()
        last[candle.timeframe.value] = (closed.closed_at - candle.end).total_seconds()
    for timeframe, lag in last.items():
        metrics.CANDLE_LAG.labels(feed, timeframe).set(lag)


def _last_per_symbol(symbols: np.ndarray, keep: int) -> np.ndarray:
    """Indices of at most the last ``keep`` ticks of each symbol, in arrival order."""
    n = symbols.shape[0]
    if n <= keep:
        return np.arange(n)
    order = np.arange(n - 1, -1, -1)
    seen: dict[object, int] = {}
    picked = []
    for i in order:
        s = symbols[i]
        c = seen.get(s, 0)
        if c < keep:
            seen[s] = c + 1
            picked.append(i)
    return np.array(sorted(picked), dtype=np.int64)
