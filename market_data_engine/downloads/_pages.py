"""What a download source hands the runner: pages of candles, each fetched and stored whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from market_data_engine.candles.history import MinuteBars
from shared.contracts import CandleMsg, Timeframe


@dataclass(frozen=True, slots=True)
class Page:
    """Candles starting in ``[start, end)``; ``expected`` of them when nothing is missing."""

    start: datetime
    end: datetime
    expected: int


@dataclass(frozen=True, slots=True)
class Fetched:
    """One page as the source gave it: 1m bars (rolled up when stored) or finished candles."""

    bars: MinuteBars | None = None
    candles: list[CandleMsg] = field(default_factory=list)
    note: str | None = None
    """Why a page holds nothing (no file published for a day, a symbol not traded)."""

    def __len__(self) -> int:
        return len(self.bars) if self.bars is not None else len(self.candles)


class Source(Protocol):
    """A public history source for one symbol and timeframe."""

    name: str
    timeframe: Timeframe

    def pages(self, start: datetime, end: datetime) -> list[Page]:
        """The pages of closed candles in ``[start, end)``, in time order."""
        ...

    async def fetch(self, page: Page) -> Fetched:
        """One page, checked in full (``DownloadError`` at the first problem)."""
        ...
