"""How much history a subscription's strategy has: "warming up (k of n bars)" or ready.

A strategy signals once it has its warm-up of closed candles on the subscription's
timeframe. The candles are the stored ones (the candle cache the strategy workers read
is filled from the same store), and a subscription over several symbols is as far as
its least-served symbol.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from shared.contracts import Timeframe
from shared.errors import DomainError
from shared.models import StrategySubscription
from shared.tickstore import TickStore, TickStoreUnavailable
from strategy_workers.api import warmup_bars

CONCURRENCY = 8
TIMEOUT_S = 2.0  # a tick store this slow leaves the warm-up unknown rather than the request


@dataclass(frozen=True, slots=True)
class Warmup:
    bars: int
    """Closed candles available, at most ``needed``."""
    needed: int

    @property
    def ready(self) -> bool:
        return self.bars >= self.needed

    @property
    def status(self) -> str:
        return "ready" if self.ready else f"warming up ({self.bars} of {self.needed} bars)"


class WarmupService:
    """Counts stored candles per (symbol, timeframe), once per request."""

    def __init__(self, store: TickStore, timeout: float = TIMEOUT_S) -> None:
        self.store = store
        self.timeout = timeout
        self._limit = asyncio.Semaphore(CONCURRENCY)
        self._counts: dict[tuple[str, Timeframe, int], asyncio.Task[int]] = {}

    async def of(self, subscription: StrategySubscription) -> Warmup | None:
        """The subscription's warm-up; None when its strategy or parameters no longer load.

        Raises ``TickStoreUnavailable`` when the store cannot answer."""
        try:
            needed = warmup_bars(subscription.strategy, subscription.params)
            timeframe = Timeframe(subscription.timeframe)
        except (DomainError, ValueError):
            return None
        if not subscription.symbols:
            return Warmup(0, needed)
        counts = await asyncio.gather(
            *(self._count(symbol, timeframe, needed) for symbol in subscription.symbols)
        )
        return Warmup(min(counts), needed)

    async def of_many(self, subscriptions: Sequence[StrategySubscription]) -> list[Warmup | None]:
        """``of`` each; all None when the store does not answer in time (the subscriptions
        are still shown: their history is only unknown for now)."""
        try:
            async with asyncio.timeout(self.timeout):
                return list(await asyncio.gather(*(self.of(s) for s in subscriptions)))
        except (TimeoutError, TickStoreUnavailable):
            return [None] * len(subscriptions)

    def _count(self, symbol: str, timeframe: Timeframe, needed: int) -> asyncio.Task[int]:
        key = (symbol, timeframe, needed)
        task = self._counts.get(key)
        if task is None:
            task = self._counts[key] = asyncio.ensure_future(self._query(*key))
        return task

    async def _query(self, symbol: str, timeframe: Timeframe, needed: int) -> int:
        async with self._limit:
            return len(await self.store.query_candles(symbol, timeframe, limit=needed))
