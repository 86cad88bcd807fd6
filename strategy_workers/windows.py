"""Candle windows for the evaluator: a per-process copy of recent bars, kept in step with the cache.

Building a window from the candle cache's messages costs a few microseconds a
bar in Python; re-reading 100-150 bars of 5,000 symbols on every close would
cost more than evaluating every strategy on them. So each worker process keeps
the bars it has read as numpy columns and, when the next candle of a market
closes, only checks with the cache that no bar came in between (the last two
cached candles) and writes the new bar in place. A market this process has not
seen, or saw with a gap (another worker took the previous candle), is read in
full.

Windows handed out are views of those columns, valid for the burst they were
loaded for: a later burst may overwrite the buffer under them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from shared.candle_cache import DEFAULT_DEPTH, CandleCache
from shared.contracts import CandleMsg, Timeframe
from strategy_workers.evaluation import WindowProvider
from strategy_workers.strategies.base import CandleWindow, to_ns

Market = tuple[str, Timeframe]

_PROBE_BARS = 2
_FIELDS = ("open", "high", "low", "close", "volume")
DEFAULT_MAX_MARKETS = 50_000


@dataclass(frozen=True, slots=True)
class WindowRequest:
    """``bars`` bars of a market ending with (and including) ``candle``."""

    bars: int
    candle: CandleMsg


@dataclass(slots=True)
class WindowStats:
    """Counts of how requests were served (for tests and metrics)."""

    local: int = 0
    appended: int = 0
    fetched: int = 0


class _Bars:
    """One market's recent bars in preallocated columns; new bars are written in place."""

    __slots__ = ("cols", "complete", "last_start", "n", "symbol", "timeframe", "ts")

    def __init__(self, market: Market, candles: Sequence[CandleMsg], capacity: int) -> None:
        self.symbol, self.timeframe = market
        capacity = max(capacity, len(candles) + 1)
        self.ts = np.empty(capacity, dtype=np.int64)
        self.cols = np.empty((len(_FIELDS), capacity), dtype=np.float64)
        self.n = 0
        self.complete = False
        """True when the bars start where the cache's history started (nothing older exists)."""
        self.last_start: datetime | None = None
        for candle in candles:
            self.append(candle)

    def append(self, candle: CandleMsg, keep: int | None = None) -> None:
        """Write ``candle`` after the last bar; when full, keep the last ``keep`` bars first."""
        if self.n == len(self.ts):
            self._make_room(keep or self.n // 2)
        i = self.n
        self.ts[i] = to_ns(candle.start)
        cols = self.cols
        cols[0, i] = candle.open
        cols[1, i] = candle.high
        cols[2, i] = candle.low
        cols[3, i] = candle.close
        cols[4, i] = candle.volume
        self.n = i + 1
        self.last_start = candle.start

    def _make_room(self, keep: int) -> None:
        keep = max(1, min(keep, self.n - 1))
        if 2 * keep > len(self.ts):  # asked to keep most of it: grow instead
            self.ts = np.concatenate((self.ts, np.empty_like(self.ts)))
            self.cols = np.concatenate((self.cols, np.empty_like(self.cols)), axis=1)
            return
        start = self.n - keep
        self.ts[:keep] = self.ts[start : self.n]
        self.cols[:, :keep] = self.cols[:, start : self.n]
        self.n = keep
        self.complete = False

    def window(self, bars: int | None = None) -> CandleWindow:
        """The last ``bars`` bars (all by default), as views."""
        n, cols = self.n, self.cols
        i = 0 if bars is None else max(0, n - bars)
        return CandleWindow(
            self.symbol,
            self.timeframe,
            self.ts[i:n],
            cols[0, i:n],
            cols[1, i:n],
            cols[2, i:n],
            cols[3, i:n],
            cols[4, i:n],
        )


class WindowStore:
    """Windows per (symbol, timeframe), served locally when possible, else from the cache."""

    def __init__(
        self,
        cache: CandleCache,
        *,
        depth: int = DEFAULT_DEPTH,
        max_markets: int = DEFAULT_MAX_MARKETS,
    ) -> None:
        self._cache = cache
        self._depth = depth
        self._max_markets = max_markets
        self._local: dict[Market, _Bars] = {}
        self.stats = WindowStats()

    async def load(self, requests: Mapping[Market, WindowRequest]) -> dict[Market, CandleWindow]:
        """A window per market ending with its candle, holding up to ``bars`` bars.

        Fewer bars only when the cache holds no more history before the candle.
        """
        out: dict[Market, CandleWindow] = {}
        probe: dict[Market, WindowRequest] = {}
        for market, req in requests.items():
            local = self._local.get(market)
            if local is None or local.last_start is None:
                continue
            if local.last_start < req.candle.start:
                probe[market] = req
                continue
            window = _serve(local, req)
            if window is not None:
                out[market] = window
                self.stats.local += 1
        if probe:
            out.update(await self._append(probe))
        cold = {m: r for m, r in requests.items() if m not in out}
        if cold:
            out.update(await self._fetch(cold))
        return out

    def provider(self, windows: Mapping[Market, CandleWindow]) -> WindowProvider:
        """An evaluator window provider over windows returned by :meth:`load`."""
        return _Provider(windows)

    def forget(self) -> None:
        """Drop every local window (they are rebuilt from the cache on demand)."""
        self._local.clear()

    async def _append(self, probe: Mapping[Market, WindowRequest]) -> dict[Market, CandleWindow]:
        """Extend local bars by their new candle when the cache shows nothing in between."""
        recent = await self._cache.recent_many(list(probe), _PROBE_BARS)
        out: dict[Market, CandleWindow] = {}
        for market, req in probe.items():
            local = self._local[market]
            start = req.candle.start
            previous = None
            for cached in recent.get(market, ()):
                if cached.start < start:
                    previous = cached
            if previous is None or previous.start != local.last_start:
                continue  # a bar this process never saw: read the market in full
            if local.n + 1 < req.bars:
                # Asked for more history than kept: the cache may hold it, also when it
                # held no more before (history stored later is merged into it).
                continue
            local.append(req.candle, keep=req.bars)
            out[market] = local.window(req.bars)
            self.stats.appended += 1
        return out

    async def _fetch(self, cold: Mapping[Market, WindowRequest]) -> dict[Market, CandleWindow]:
        by_bars: dict[int, list[Market]] = {}
        for market, req in cold.items():
            by_bars.setdefault(req.bars, []).append(market)
        out: dict[Market, CandleWindow] = {}
        deeper: list[Market] = []
        for bars, markets in by_bars.items():
            found = await self._cache.recent_many(markets, bars)
            for market in markets:
                candles = found.get(market, [])
                if len(candles) == bars and candles[-1].start > cold[market].candle.start:
                    deeper.append(market)  # a re-run of an older candle: read further back
                    continue
                out[market] = self._build(market, candles, cold[market], len(candles) < bars)
        if deeper:
            found = await self._cache.recent_many(deeper, self._depth)
            for market in deeper:
                candles = found.get(market, [])
                out[market] = self._build(market, candles, cold[market], len(candles) < self._depth)
        self.stats.fetched += len(cold)
        return out

    def _build(
        self, market: Market, candles: list[CandleMsg], req: WindowRequest, complete: bool
    ) -> CandleWindow:
        start = req.candle.start
        older = [c for c in candles if c.start < start]
        bars = _Bars(market, older, capacity=2 * req.bars)
        bars.complete = complete
        bars.append(req.candle, keep=req.bars)
        self._local.pop(market, None)  # re-inserted last: the dict's order is recency
        self._local[market] = bars
        if len(self._local) > self._max_markets:
            for old in list(self._local)[: len(self._local) // 10]:
                del self._local[old]
        return bars.window(req.bars)


class _Provider:
    """Serves the evaluator from windows loaded for one burst."""

    def __init__(self, windows: Mapping[Market, CandleWindow]) -> None:
        self._windows = windows

    def __call__(
        self, symbol: str, timeframe: Timeframe, bars: int, until: datetime
    ) -> CandleWindow | None:
        window = self._windows.get((symbol, timeframe))
        return None if window is None else window.until(to_ns(until)).tail(bars)


def _serve(local: _Bars, req: WindowRequest) -> CandleWindow | None:
    """The local bars cut at the candle, when they hold it and the bars before it."""
    start = to_ns(req.candle.start)
    cut = local.window().until(start)
    if not len(cut) or int(cut.ts[-1]) != start:
        return None
    if len(cut) < req.bars and not local.complete:
        return None
    return cut.tail(req.bars)
