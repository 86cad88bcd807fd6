"""TA-Lib behind one small API: float64 arrays in, float64 arrays out (NaN during warm-up).

Strategies call these functions rather than ``talib`` directly so the indicator
set, its argument names and its multi-output shapes stay the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import talib

from strategy_workers.indicators._types import FloatArray

# TA-Lib's MA_Type.SMA: an int at run time, an Enum member in the bundled stubs.
MA_SMA: Any = 0

F = TypeVar("F", bound=Callable[..., Any])


def _raw(fn: F) -> F:
    """The Cython function under talib's pandas/polars wrapper.

    With pandas or polars installed, every ``talib.X`` call first scans its
    arguments for Series objects; on a live-sized window that check costs more
    than the indicator. These functions only ever receive numpy arrays.
    """
    return getattr(fn, "__wrapped__", fn)


_SMA, _EMA, _WMA, _RSI = _raw(talib.SMA), _raw(talib.EMA), _raw(talib.WMA), _raw(talib.RSI)
_MACD, _STOCH, _WILLR, _CCI = (
    _raw(talib.MACD),
    _raw(talib.STOCH),
    _raw(talib.WILLR),
    _raw(talib.CCI),
)
_BBANDS, _ATR, _ADX, _OBV = _raw(talib.BBANDS), _raw(talib.ATR), _raw(talib.ADX), _raw(talib.OBV)
_PLUS_DI, _MINUS_DI = _raw(talib.PLUS_DI), _raw(talib.MINUS_DI)


class MACD(NamedTuple):
    macd: FloatArray
    signal: FloatArray
    hist: FloatArray


class Stochastic(NamedTuple):
    k: FloatArray
    d: FloatArray


class Bands(NamedTuple):
    upper: FloatArray
    middle: FloatArray
    lower: FloatArray


class DMI(NamedTuple):
    plus_di: FloatArray
    minus_di: FloatArray
    adx: FloatArray


def sma(close: FloatArray, period: int) -> FloatArray:
    """Simple moving average."""
    return _SMA(close, timeperiod=period)


def ema(close: FloatArray, period: int) -> FloatArray:
    """Exponential moving average, seeded with the SMA of the first ``period`` bars."""
    return _EMA(close, timeperiod=period)


def wma(close: FloatArray, period: int) -> FloatArray:
    """Linearly weighted moving average (newest bar weighs ``period``)."""
    return _WMA(close, timeperiod=period)


def rsi(close: FloatArray, period: int = 14) -> FloatArray:
    """Wilder's relative strength index, 0-100."""
    return _RSI(close, timeperiod=period)


def macd(close: FloatArray, fast: int = 12, slow: int = 26, signal: int = 9) -> MACD:
    """MACD line (EMA fast - EMA slow), its signal EMA and the histogram."""
    line, sig, hist = _MACD(close, fastperiod=fast, slowperiod=slow, signalperiod=signal)
    return MACD(line, sig, hist)


def stochastic(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    k_period: int = 14,
    k_smoothing: int = 3,
    d_period: int = 3,
) -> Stochastic:
    """Slow stochastic oscillator %K and %D, 0-100 (SMA smoothing)."""
    k, d = _STOCH(
        high,
        low,
        close,
        fastk_period=k_period,
        slowk_period=k_smoothing,
        slowk_matype=MA_SMA,
        slowd_period=d_period,
        slowd_matype=MA_SMA,
    )
    return Stochastic(k, d)


def williams_r(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14
) -> FloatArray:
    """Williams %R, -100 (at the low of the range) to 0 (at the high)."""
    return _WILLR(high, low, close, timeperiod=period)


def cci(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 20) -> FloatArray:
    """Commodity channel index."""
    return _CCI(high, low, close, timeperiod=period)


def bollinger(close: FloatArray, period: int = 20, nbdev: float = 2.0) -> Bands:
    """Bollinger bands: SMA middle, +/- ``nbdev`` population standard deviations."""
    upper, middle, lower = _BBANDS(
        close, timeperiod=period, nbdevup=nbdev, nbdevdn=nbdev, matype=MA_SMA
    )
    return Bands(upper, middle, lower)


def atr(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14) -> FloatArray:
    """Wilder's average true range."""
    return _ATR(high, low, close, timeperiod=period)


def adx(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14) -> FloatArray:
    """Average directional index (trend strength, 0-100, no direction)."""
    return _ADX(high, low, close, timeperiod=period)


def dmi(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14) -> DMI:
    """+DI, -DI and ADX: direction and strength of the trend."""
    return DMI(
        _PLUS_DI(high, low, close, timeperiod=period),
        _MINUS_DI(high, low, close, timeperiod=period),
        _ADX(high, low, close, timeperiod=period),
    )


def obv(close: FloatArray, volume: FloatArray) -> FloatArray:
    """On-balance volume, starting at the first bar's volume."""
    return _OBV(close, volume)
