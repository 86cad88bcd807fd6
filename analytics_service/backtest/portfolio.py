"""What a run reads for each symbol, and several symbols run as one portfolio.

A run over a range reads the bars before the range's start as history, so the strategy
is warmed up on its first bar as it would be live; it trades from that bar on. Several
symbols run one account each, with the request's capital, on the same strategy and
settings; ``build_report`` reports the runs together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from shared.errors import Unprocessable

from .data import Bars, to_ns
from .engine import run_backtest
from .market import market_for
from .results import BacktestRun
from .settings import BacktestRequest


@dataclass(frozen=True, slots=True)
class SymbolData:
    """One symbol's bars: traded from ``trade_from`` on, the bars before it are warm-up;
    ``fine``: finer candles to replay inside bars that reach a stop or a target."""

    bars: Bars
    trade_from: int = 0
    fine: Bars | None = None

    @property
    def traded_bars(self) -> int:
        return len(self.bars) - self.trade_from


def in_range(bars: Bars, start: datetime | None, end: datetime | None, warmup: int) -> SymbolData:
    """The bars starting in ``[start, end)`` (None: open), with up to ``warmup`` bars
    before ``start`` as history; 422 when none starts in the range."""
    ts = bars.ts
    lo = int(np.searchsorted(ts, to_ns(start), "left")) if start is not None else 0
    hi = int(np.searchsorted(ts, to_ns(end), "left")) if end is not None else len(ts)
    if lo >= hi:
        raise Unprocessable(f"no {bars.timeframe} candles of {bars.symbol} in the range")
    first = max(0, lo - warmup)
    if (first, hi) == (0, len(ts)):
        return SymbolData(bars, lo)
    return SymbolData(bars.slice(first, hi), lo - first)


def run_portfolio(
    request: BacktestRequest,
    data: Sequence[SymbolData],
    *,
    progress: Callable[[int, float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[BacktestRun]:
    """One run per symbol of ``data`` (the request's strategy, settings and capital each);
    ``progress`` is told the symbol's index and its share done."""
    runs = []
    for n, item in enumerate(data):
        symbol = item.bars.symbol
        instrument, fees = market_for(symbol)

        def advance(done: float, n: int = n) -> None:
            if progress is not None:
                progress(n, done)

        runs.append(
            run_backtest(
                request.model_copy(update={"symbol": symbol}), item.bars, instrument, fees,
                progress=advance, cancelled=cancelled, fine=item.fine,
                trade_from=item.trade_from,
            )
        )  # fmt: skip
    return runs
