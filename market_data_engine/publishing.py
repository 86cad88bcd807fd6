"""Pub/sub events of the market data service, published without holding up the feed.

Ticks and candle events go out on pub/sub, at most once: a subscriber that is away
misses them (history is in the tick store, candles reach the strategies through
``CandleDelivery``). While the bus is down an attempt to publish costs its client's
connect retries, seconds each; paid on every batch, that would hold the consumer back
until ticks pile up unread in the feed (a live exchange drops a reader that slow). So
after a failure the publisher drops events without trying, for a back-off that doubles
up to ``max_delay``, then tries again with the next batch. The drops are counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from shared import metrics
from shared.bus import EventBus
from shared.contracts import Message

log = logging.getLogger(__name__)

MIN_DELAY = 0.5  # seconds without an attempt after the first failure
MAX_DELAY = 10.0


class EventPublisher:
    """``publish_many`` on ``bus`` that gives up quickly while the bus is failing."""

    def __init__(
        self,
        bus: EventBus,
        feed: str,
        *,
        min_delay: float = MIN_DELAY,
        max_delay: float = MAX_DELAY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.feed = feed
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.dropped = 0
        """Events not published (failed, or skipped while backing off)."""
        self.attempts_failed = 0
        self._monotonic = monotonic
        self._delay = 0.0
        self._retry_at = 0.0
        self._failing_since: float | None = None

    @property
    def backing_off(self) -> bool:
        return self._monotonic() < self._retry_at

    async def publish_many(self, items: Sequence[tuple[str, Message]]) -> bool:
        """Publish ``items`` in order; False if they were dropped (never raises)."""
        if not items:
            return True
        if self.backing_off:
            self._drop(len(items))
            return False
        try:
            await self.bus.publish_many(items)
        except Exception as exc:
            self._failed(exc)
            self._drop(len(items))
            return False
        self._recovered()
        return True

    def _drop(self, n: int) -> None:
        self.dropped += n
        metrics.EVENTS_DROPPED.labels(self.feed).inc(n)

    def _failed(self, exc: Exception) -> None:
        self.attempts_failed += 1
        self._delay = min(self.max_delay, max(self.min_delay, self._delay * 2))
        now = self._monotonic()
        self._retry_at = now + self._delay
        if self._failing_since is None:
            self._failing_since = now
            log.warning(
                "publishing market data events failed; ticks and candle events are dropped "
                "until the bus answers again (candles still reach the tick store and the "
                "strategies): %r",
                exc,
            )

    def _recovered(self) -> None:
        if self._failing_since is not None:
            log.warning(
                "market data events are published again after %.1f s; %d were dropped",
                self._monotonic() - self._failing_since,
                self.dropped,
            )
        self._failing_since = None
        self._delay = 0.0
        self._retry_at = 0.0
