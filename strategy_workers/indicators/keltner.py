"""Keltner channels (TA-Lib has none): an EMA of the close +/- a multiple of the ATR."""

from __future__ import annotations

from strategy_workers.indicators._types import FloatArray
from strategy_workers.indicators.core import Bands, atr, ema


def keltner(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    period: int = 20,
    multiplier: float = 2.0,
    atr_period: int = 10,
) -> Bands:
    """Keltner channels: EMA(close, period) +/- ``multiplier`` x ATR(atr_period)."""
    middle = ema(close, period)
    width = multiplier * atr(high, low, close, atr_period)
    return Bands(middle + width, middle, middle - width)
