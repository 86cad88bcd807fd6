"""Which bars a strategy is evaluated on, and the windows the live evaluator reads there."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from shared.errors import Unprocessable
from strategy_workers.strategies.base import CandleWindow, Strategy
from strategy_workers.strategies.registry import StrategyRegistry

from .settings import BacktestRequest


def build_strategy(request: BacktestRequest, registry: StrategyRegistry) -> Strategy[Any]:
    """The strategy with validated parameters (4xx errors naming the wrong field)."""
    # validate_params first: an unknown strategy in a request is a 422, as for subscriptions
    params = registry.validate_params(request.strategy, request.params)
    strategy = registry.get(request.strategy)(params)
    if request.timeframe not in strategy.timeframes:
        raise Unprocessable(
            f"strategy {request.strategy!r} does not support timeframe {request.timeframe}",
            details=[{"field": "timeframe", "message": "not supported by the strategy"}],
        )
    return strategy


def candidate_bars(strategy: Strategy[Any], window: CandleWindow) -> np.ndarray:
    """The bars to evaluate: the strategy's vectorised scan, else every bar that signals."""
    warmup = strategy.warmup
    scanned = strategy.scan(window)
    if scanned is not None:
        return np.asarray(scanned, dtype=np.int64)
    found = []
    for i in range(warmup - 1, len(window)):
        lo = i + 1 - warmup
        view = CandleWindow(
            window.symbol, window.timeframe, window.ts[lo : i + 1], window.open[lo : i + 1],
            window.high[lo : i + 1], window.low[lo : i + 1], window.close[lo : i + 1],
            window.volume[lo : i + 1],
        )  # fmt: skip
        try:
            if strategy.evaluate(view):
                found.append(i)
        except Exception:
            found.append(i)
    return np.asarray(found, dtype=np.int64)


class Windows:
    """The live evaluator's window provider over the backtest's history, cut at bar ``i``."""

    def __init__(self, window: CandleWindow) -> None:
        self.window = window
        self.i = 0

    def __call__(self, symbol: str, timeframe: Any, bars: int, until: datetime) -> CandleWindow:
        w, stop = self.window, self.i + 1
        lo = max(0, stop - bars)
        return CandleWindow(
            w.symbol, w.timeframe, w.ts[lo:stop], w.open[lo:stop], w.high[lo:stop],
            w.low[lo:stop], w.close[lo:stop], w.volume[lo:stop],
        )  # fmt: skip
