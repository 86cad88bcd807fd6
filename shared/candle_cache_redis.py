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

# KEYS[1] the series; ARGV: depth, n (snapshot length), 1 if the merged candles may be
# followed by candles pushed since the snapshot, the n snapshot rows, the merged rows.
# Pushes only append after the last row and trim the head, so the list now must be a
# suffix of the snapshot followed by what was pushed since; anything else (another
# merge) returns 0 and the caller starts again from a new snapshot.
_REPLACE = """
local depth = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local rows = redis.call('LRANGE', KEYS[1], 0, -1)
local last = 0
if n > 0 then
  local want = ARGV[3 + n]
  for i = #rows, 1, -1 do
    if rows[i] == want then last = i break end
  end
  if last == 0 or last > n then return 0 end
  for i = 1, last do
    if rows[i] ~= ARGV[3 + n - last + i] then return 0 end
  end
end
if last < #rows and ARGV[3] ~= '1' then return 0 end
redis.call('DEL', KEYS[1])
for i = 4 + n, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
for i = last + 1, #rows, 1000 do
  redis.call('RPUSH', KEYS[1], unpack(rows, i, math.min(i + 999, #rows)))
end
redis.call('LTRIM', KEYS[1], -depth, -1)
return 1
"""


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
        self._replace = client.register_script(_REPLACE)

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
        """Merge ``candles`` into the series from a snapshot, written by a script that
        checks the list is still that snapshot (less what pushes trimmed off its head)
        and puts the candles pushed since the snapshot after the merged ones: history
        under the live candles never waits for the engine to pause, and nothing pushed
        meanwhile is lost. Only a merge that adds candles newer than the snapshot's last
        (or into an empty series) starts again when a push came in between."""
        key = _key(symbol, timeframe)
        for _ in range(_MERGE_ATTEMPTS):
            rows = await self.client.lrange(key, 0, -1)
            cached = [m for m in (decode(r) for r in rows) if isinstance(m, CandleMsg)]
            merged, added = merged_series(cached, candles, self.depth)
            if not added:
                return 0
            under = bool(cached) and merged[-1].start == cached[-1].start
            args = [self.depth, len(rows), int(under), *rows, *(encode(c) for c in merged)]
            if await self._replace(keys=[key], args=args):
                return added
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
