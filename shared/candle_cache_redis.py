"""The candle cache in Redis (distributed profile): one capped list per (symbol, timeframe)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import WatchError

from shared.bus.codec import decode, encode
from shared.candle_cache import DEFAULT_DEPTH, merged_series
from shared.contracts import CandleMsg, Timeframe

KEY = "candles:{symbol}:{timeframe}"
_MERGE_ATTEMPTS = 10


def _key(symbol: str, timeframe: Timeframe | str) -> str:
    return KEY.format(symbol=symbol, timeframe=str(timeframe))


class RedisCandleCache:
    """RPUSH + LTRIM per series in one pipeline; readers take the tail with LRANGE.

    Candles are keyed by their start in a companion sorted position: a candle whose
    start is not after the series' last one is skipped, so a re-published candle
    (a restarted engine replaying) never appears twice.
    """

    def __init__(self, client: Any, depth: int = DEFAULT_DEPTH) -> None:
        self.client = client
        self.depth = depth

    async def push(self, candles: Sequence[CandleMsg]) -> None:
        if not candles:
            return
        keys = sorted({_key(c.symbol, c.timeframe) for c in candles})
        last = await self._last_starts(keys)
        pipe = self.client.pipeline(transaction=False)
        for candle in candles:
            key = _key(candle.symbol, candle.timeframe)
            seen = last.get(key)
            if seen is not None and candle.start <= seen:
                continue
            last[key] = candle.start
            pipe.rpush(key, encode(candle))
        for key in keys:
            pipe.ltrim(key, -self.depth, -1)
        await pipe.execute()

    async def merge(self, symbol: str, timeframe: Timeframe, candles: Sequence[CandleMsg]) -> int:
        """Read, merge and write the series in one optimistic transaction (WATCH): a
        candle the engine pushes meanwhile makes it start again, so none is lost."""
        key = _key(symbol, timeframe)
        async with self.client.pipeline(transaction=True) as pipe:
            for _ in range(_MERGE_ATTEMPTS):
                try:
                    await pipe.watch(key)
                    rows = await pipe.lrange(key, 0, -1)
                    cached = [m for m in (decode(r) for r in rows) if isinstance(m, CandleMsg)]
                    merged, added = merged_series(cached, candles, self.depth)
                    if not added:
                        await pipe.reset()
                        return 0
                    pipe.multi()
                    pipe.delete(key)
                    pipe.rpush(key, *(encode(c) for c in merged))
                    await pipe.execute()
                    return added
                except WatchError:
                    continue
        raise WatchError(f"{key} kept changing while its history was merged")

    async def _last_starts(self, keys: list[str]) -> dict[str, Any]:
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.lindex(key, -1)
        out: dict[str, Any] = {}
        for key, raw in zip(keys, await pipe.execute(), strict=True):
            if raw is not None:
                msg = decode(raw)
                if isinstance(msg, CandleMsg):
                    out[key] = msg.start
        return out

    async def recent(self, symbol: str, timeframe: Timeframe, n: int) -> list[CandleMsg]:
        rows = await self.client.lrange(_key(symbol, timeframe), -n, -1)
        return [m for m in (decode(r) for r in rows) if isinstance(m, CandleMsg)]

    async def recent_many(
        self, keys: Sequence[tuple[str, Timeframe]], n: int
    ) -> dict[tuple[str, Timeframe], list[CandleMsg]]:
        pipe = self.client.pipeline(transaction=False)
        for symbol, timeframe in keys:
            pipe.lrange(_key(symbol, timeframe), -n, -1)
        results = await pipe.execute()
        return {
            key: [m for m in (decode(r) for r in rows) if isinstance(m, CandleMsg)]
            for key, rows in zip(keys, results, strict=True)
        }
