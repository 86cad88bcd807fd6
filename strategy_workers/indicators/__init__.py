"""Indicators: one API over TA-Lib plus the few it lacks (VWAP, Keltner, support/resistance).

Inputs are float64 numpy arrays; outputs are float64 arrays aligned with the
input, NaN while an indicator warms up.
"""

from strategy_workers.indicators._types import BoolArray, FloatArray, IntArray
from strategy_workers.indicators.core import (
    DMI,
    MACD,
    Bands,
    Stochastic,
    adx,
    atr,
    bollinger,
    cci,
    dmi,
    ema,
    macd,
    obv,
    rsi,
    sma,
    stochastic,
    williams_r,
    wma,
)
from strategy_workers.indicators.keltner import keltner
from strategy_workers.indicators.levels import (
    Levels,
    SupportResistance,
    cluster_levels,
    support_resistance,
    swing_highs,
    swing_lows,
)
from strategy_workers.indicators.vwap import session_ids, vwap

__all__ = [
    "DMI",
    "MACD",
    "Bands",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "Levels",
    "Stochastic",
    "SupportResistance",
    "adx",
    "atr",
    "bollinger",
    "cci",
    "cluster_levels",
    "dmi",
    "ema",
    "keltner",
    "macd",
    "obv",
    "rsi",
    "session_ids",
    "sma",
    "stochastic",
    "support_resistance",
    "swing_highs",
    "swing_lows",
    "vwap",
    "williams_r",
    "wma",
]
