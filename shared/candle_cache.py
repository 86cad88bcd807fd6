"""The last N closed candles per (symbol, timeframe): written by the market data engine,
read by the strategy workers to build their windows.

In-process adapter here (embedded profile); the Redis adapter lives in
``shared/candle_cache_redis.py`` (distributed profile).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from shared.config import Profile, Settings
from shared.contracts import CandleMsg, Timeframe

DEFAULT_DEPTH = 300  # a strategy window is at most a few hundred bars


@runtime_checkable
class CandleCache(Protocol):
    async def push(self, candles: Sequence[CandleMsg]) -> None:
        """Append closed candles (any symbols and timeframes), keeping the last ``depth``."""
        ...

    async def recent(self, symbol: str, timeframe: Timeframe, n: int) -> list[CandleMsg]:
        """Up to ``n`` most recent closed candles, oldest first."""
        ...

    async def recent_many(
        self, keys: Sequence[tuple[str, Timeframe]], n: int
    ) -> dict[tuple[str, Timeframe], list[CandleMsg]]:
        """``recent`` for many keys in one round trip."""
        ...


@runtime_checkable
class MergingCandleCache(CandleCache, Protocol):
    async def merge(self, symbol: str, timeframe: Timeframe, candles: Sequence[CandleMsg]) -> int:
        """Put ``candles`` (one series, oldest first) among those cached by their start,
        at once, keeping the newest ``depth``; where both have a start the cached candle
        stays. Returns how many candles were added."""
        ...


def merged_series(
    cached: Sequence[CandleMsg], candles: Sequence[CandleMsg], depth: int
) -> tuple[list[CandleMsg], int]:
    """``cached`` and ``candles`` by start (the cached one where both have it), the newest
    ``depth``, oldest first; and how many of them were not cached."""
    by_start = {c.start: c for c in candles} | {c.start: c for c in cached}
    merged = [by_start[start] for start in sorted(by_start)[-depth:]]
    return merged, len({c.start for c in merged} - {c.start for c in cached})


class InProcessCandleCache:
    """Bounded deques per (symbol, timeframe); a candle with a start already cached replaces
    nothing and is ignored, so re-publishing is harmless."""

    def __init__(self, depth: int = DEFAULT_DEPTH) -> None:
        self.depth = depth
        self._data: dict[tuple[str, Timeframe], deque[CandleMsg]] = {}

    async def push(self, candles: Sequence[CandleMsg]) -> None:
        for candle in candles:
            key = (candle.symbol, candle.timeframe)
            q = self._data.get(key)
            if q is None:
                q = self._data[key] = deque(maxlen=self.depth)
            if q and candle.start <= q[-1].start:
                continue
            q.append(candle)

    async def merge(self, symbol: str, timeframe: Timeframe, candles: Sequence[CandleMsg]) -> int:
        key = (symbol, timeframe)
        merged, added = merged_series(self._data.get(key, ()), candles, self.depth)
        if added:
            self._data[key] = deque(merged, maxlen=self.depth)
        return added

    async def recent(self, symbol: str, timeframe: Timeframe, n: int) -> list[CandleMsg]:
        q = self._data.get((symbol, timeframe))
        if not q:
            return []
        return list(q)[-n:]

    async def recent_many(
        self, keys: Sequence[tuple[str, Timeframe]], n: int
    ) -> dict[tuple[str, Timeframe], list[CandleMsg]]:
        return {key: await self.recent(key[0], key[1], n) for key in keys}


def candle_cache_from_settings(settings: Settings) -> CandleCache:
    """In-process (embedded profile) or Redis (distributed profile)."""
    if settings.profile is Profile.EMBEDDED:
        return InProcessCandleCache()
    from shared.candle_cache_redis import RedisCandleCache
    from shared.redis_client import create_redis_from_settings

    return RedisCandleCache(create_redis_from_settings(settings))
