"""Replay of recorded ticks or bars from CSV or Parquet files.

``speed=None`` replays as fast as possible in batches of ``batch_size``; ``speed=1.0`` at the
recorded pace; ``speed=10.0`` ten times faster. Tick timestamps are the recorded ones
(event time), unless ``rebase_to`` shifts the whole recording so it starts at that instant
(``"start"``: the clock's time when the replay begins, for a recording dressed as live).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

from market_data_engine.feeds._files import load_recorded
from market_data_engine.feeds._time import to_ns
from market_data_engine.feeds.base import Feed
from market_data_engine.ticks import TickBatch
from shared.clock import Clock, SystemClock

_MAX_SLEEP_S = 1.0  # long gaps in a recording are slept in steps, so stop() stays prompt


class ReplayFeed(Feed):
    """Ticks from recorded files, at recorded speed, a multiple of it, or flat out."""

    def __init__(
        self,
        paths: str | Path | Sequence[str | Path],
        *,
        speed: float | None = None,
        symbols: Sequence[str] | None = None,
        symbol: str | None = None,
        tz: str = "UTC",
        bar_interval: timedelta | None = None,
        rebase_to: datetime | Literal["start"] | None = None,
        clock: Clock | None = None,
        batch_size: int = 10_000,
        name: str = "replay",
    ) -> None:
        if speed is not None and not speed > 0:
            raise ValueError("speed must be positive, or None for as fast as possible")
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        super().__init__(name, symbols or ())
        self.paths = [Path(p) for p in ([paths] if isinstance(paths, str | Path) else paths)]
        self.speed = speed
        self.batch_size = batch_size
        self._filter = frozenset(symbols) if symbols else None
        self._symbol = symbol
        self._tz = tz
        self._bar_interval = bar_interval
        self._rebase_to = rebase_to
        self._clock = clock or SystemClock()
        self._ticks: TickBatch | None = None
        self._pos = 0  # next tick to emit; a stopped and restarted replay resumes here

    async def _open(self) -> None:
        if self._ticks is not None:
            return
        ticks = await asyncio.to_thread(
            load_recorded,
            self.paths,
            symbol=self._symbol,
            tz=self._tz,
            bar_interval=self._bar_interval,
        )
        if self._filter is not None:
            ticks = ticks.select(np.isin(ticks.symbol, list(self._filter)))
        else:
            self.symbols = tuple(sorted(set(ticks.symbol.tolist())))
        self._ticks = ticks

    def _stream(self) -> AsyncGenerator[TickBatch, None]:
        return self._replay()

    async def _replay(self) -> AsyncGenerator[TickBatch, None]:
        ticks = self._ticks
        if ticks is None or self._pos >= len(ticks):
            return
        ticks = self._rebased(ticks)
        if self.speed is None:
            while self._pos < len(ticks) and not self.stopping:
                end = min(self._pos + self.batch_size, len(ticks))
                yield _slice(ticks, self._pos, end)
                self._pos = end
                await asyncio.sleep(0)
            return
        # Due time of each tick, in seconds after the replay (re)starts at self._pos.
        due = (ticks.ts_ns - ticks.ts_ns[self._pos]) / 1e9 / self.speed
        loop = asyncio.get_running_loop()
        begin = loop.time()
        while self._pos < len(ticks):
            elapsed = loop.time() - begin
            end = min(int(np.searchsorted(due, elapsed, "right")), self._pos + self.batch_size)
            if end > self._pos:
                yield _slice(ticks, self._pos, end)
                self._pos = end
                continue
            if await self._sleep(min(float(due[self._pos]) - elapsed, _MAX_SLEEP_S)):
                return

    def _rebased(self, ticks: TickBatch) -> TickBatch:
        if self._rebase_to is None or len(ticks) == 0:
            return ticks
        target = self._clock.now() if self._rebase_to == "start" else self._rebase_to
        assert isinstance(target, datetime)
        shift = to_ns(target) - int(ticks.ts_ns[self._pos])
        return TickBatch(ticks.symbol, ticks.ts_ns + shift, ticks.price, ticks.qty)


def _slice(b: TickBatch, start: int, end: int) -> TickBatch:
    return TickBatch(b.symbol[start:end], b.ts_ns[start:end], b.price[start:end], b.qty[start:end])
