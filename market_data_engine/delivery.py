"""Closed candles on to the candle cache and strategy evaluation, retried until they arrive.

In the distributed profile both live on Redis (the cache, and the Celery broker the
evaluation tasks travel through). A Redis outage must not lose a candle, nor hold up the
feed: a burst that cannot be handed on waits in a bounded queue, in order, and is retried
with back-off; later bursts queue behind it so the cache never sees a newer candle before
an older one. Each step runs at most once per burst that succeeded at it (the cache skips
repeated candles anyway; a repeated evaluation task is harmless, but not sent on purpose).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from market_data_engine.candles.engine import ClosedCandles
from shared.candle_cache import CandleCache

log = logging.getLogger(__name__)

CandleHandler = Callable[[ClosedCandles], Awaitable[None]]

MAX_PENDING_CANDLES = 200_000  # about 200 bursts of every NIFTY 50 symbol and timeframe
MIN_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 10.0


@dataclass(slots=True, eq=False)
class _Burst:
    candles: ClosedCandles
    cached: bool = False
    handed: bool = False


class CandleDelivery:
    """Hands bursts of closed candles to ``cache`` then ``on_candles``, in order, retrying."""

    def __init__(
        self,
        cache: CandleCache,
        on_candles: CandleHandler | None = None,
        *,
        max_pending: int = MAX_PENDING_CANDLES,
        min_retry_delay: float = MIN_RETRY_DELAY,
        max_retry_delay: float = MAX_RETRY_DELAY,
    ) -> None:
        self.cache = cache
        self.on_candles = on_candles
        self.max_pending = max_pending
        self.min_retry_delay = min_retry_delay
        self.max_retry_delay = max_retry_delay
        self.delivered_late = 0
        """Candles handed on after at least one failed attempt."""
        self.undelivered = 0
        """Candles given up on because the queue was full (they are in the tick store)."""
        self._queue: deque[_Burst] = deque()
        self._queued = 0
        self._lock = asyncio.Lock()
        self._delay = 0.0
        self._retry_at = 0.0
        self._failing_since: float | None = None

    @property
    def pending(self) -> int:
        """Candles waiting to be handed on."""
        return self._queued

    async def hand_on(self, candles: ClosedCandles) -> None:
        """Queue a burst and deliver what is due; never raises for a failing dependency."""
        if not candles:
            return
        self._queue.append(_Burst(candles))
        self._queued += len(candles)
        self._shed()
        await self.retry()

    async def retry(self, *, now: bool = False) -> None:
        """Deliver queued bursts, oldest first, unless backing off (``now`` ignores that)."""
        if not self._queue or self._lock.locked():
            return  # whoever holds the lock delivers every burst queued, this one included
        if not now and time.monotonic() < self._retry_at:
            return
        async with self._lock:
            while self._queue:
                burst = self._queue[0]
                try:
                    await self._deliver(burst)
                except Exception as exc:
                    self._failed(exc)
                    return
                self._queue.popleft()
                self._queued -= len(burst.candles)
                if self._failing_since is not None:
                    self.delivered_late += len(burst.candles)
            self._recovered()

    async def _deliver(self, burst: _Burst) -> None:
        # The cache first: evaluation reads its windows from it.
        if not burst.cached:
            await self.cache.push(burst.candles)
            burst.cached = True
        if not burst.handed and self.on_candles is not None:
            await self.on_candles(burst.candles)
        burst.handed = True

    def _failed(self, exc: Exception) -> None:
        self._delay = min(self.max_retry_delay, max(self.min_retry_delay, self._delay * 2))
        self._retry_at = time.monotonic() + self._delay
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.warning(
                "handing closed candles to the cache and strategies failed; %d candles wait "
                "and are retried (they are in the tick store already): %r",
                self._queued,
                exc,
            )

    def _recovered(self) -> None:
        if self._failing_since is not None:
            log.warning(
                "closed candles are handed on again after %.1f s; %d were delivered late",
                time.monotonic() - self._failing_since,
                self.delivered_late,
            )
        self._failing_since = None
        self._delay = 0.0
        self._retry_at = 0.0

    def _shed(self) -> None:
        """Over the bound, give up the oldest bursts not being delivered right now."""
        keep_first = self._lock.locked()  # the head burst may be half delivered
        while self._queued > self.max_pending and len(self._queue) > 1 + keep_first:
            burst = self._queue[int(keep_first)]
            del self._queue[int(keep_first)]
            self._queued -= len(burst.candles)
            self.undelivered += len(burst.candles)
            log.error(
                "gave up handing on %d closed candles (queue over %d); they stay in the "
                "tick store, strategies do not evaluate them",
                len(burst.candles),
                self.max_pending,
            )
