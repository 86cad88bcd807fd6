"""Bars and requests for backtest tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from analytics_service.backtest.data import Bars, bars_from_arrays
from analytics_service.backtest.settings import BacktestRequest, BacktestSettings
from shared.contracts import Timeframe

T0 = 1_704_067_200 * 10**9  # 2024-01-01 00:00 UTC
MINUTE = 60 * 10**9


def bars(
    close: list[float],
    *,
    open_: list[float] | None = None,
    high: list[float] | None = None,
    low: list[float] | None = None,
    symbol: str = "SYNTH",
) -> Bars:
    c = np.array(close, dtype=float)
    o = np.array(open_ if open_ is not None else close, dtype=float)
    h = np.array(high, dtype=float) if high is not None else np.maximum(o, c)
    lo = np.array(low, dtype=float) if low is not None else np.minimum(o, c)
    ts = T0 + np.arange(len(c), dtype=np.int64) * MINUTE
    return bars_from_arrays(symbol, Timeframe.M1, ts, o, h, lo, c, np.full(len(c), 10.0))


def request(
    params: dict[str, Any] | None = None, symbol: str = "SYNTH", **settings: Any
) -> BacktestRequest:
    settings.setdefault("sizing_method", "fixed_quantity")
    settings.setdefault("sizing_params", {"quantity": "10"})
    settings.setdefault("capital", Decimal(100_000))
    return BacktestRequest(
        strategy="ma_crossover",
        params=params or {"fast": 2, "slow": 3, "atr_period": 2},
        symbol=symbol,
        timeframe=Timeframe.M1,
        settings=BacktestSettings(**settings),
    )


# Closes whose SMA(2) crosses above SMA(3) on bar 4 and below on bar 8.
CROSS = [10.0, 10.0, 10.0, 10.0, 12.0, 13.0, 13.0, 12.0, 9.0, 9.0, 9.0, 9.0]
