"""Support and resistance levels from swing highs and lows (TA-Lib has none)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from strategy_workers.indicators._types import BoolArray, FloatArray, IntArray


class Levels(NamedTuple):
    """Price levels, ascending, and how many swing points formed each."""

    price: FloatArray
    touches: IntArray


class SupportResistance(NamedTuple):
    support: Levels
    resistance: Levels


def swing_highs(high: FloatArray, order: int = 2) -> BoolArray:
    """Bars whose high beats the ``order`` bars before and is not beaten by the ``order`` after.

    The first bar of a flat top counts, the rest of it does not, so a plateau is
    one touch. The last ``order`` bars cannot be confirmed yet and are False.
    """
    return _swings(high, order)


def swing_lows(low: FloatArray, order: int = 2) -> BoolArray:
    """Mirror of :func:`swing_highs` for lows."""
    return _swings(-low, order)


def _swings(values: FloatArray, order: int) -> BoolArray:
    n = len(values)
    out = np.zeros(n, dtype=np.bool_)
    if order < 1 or n < 2 * order + 1:
        return out
    # 2 x order shifted comparisons: far cheaper than a sliding-window view on short windows.
    centre = values[order : n - order]
    swing = out[order : n - order]
    swing[:] = True
    for k in range(1, order + 1):
        swing &= centre > values[order - k : n - order - k]
        swing &= centre >= values[order + k : n - order + k]
    return out


def cluster_levels(prices: FloatArray, tolerance: float = 0.005) -> Levels:
    """Group prices whose neighbours (sorted) lie within ``tolerance`` (relative) of each other.

    Each group becomes one level at its mean price, with the group size as touches.
    """
    if len(prices) == 0:
        return Levels(np.empty(0, dtype=np.float64), np.empty(0, dtype=np.int64))
    ordered = np.sort(prices)
    starts_group = np.zeros(len(ordered), dtype=np.int64)
    starts_group[1:] = (ordered[1:] - ordered[:-1]) > tolerance * ordered[:-1]
    group = np.cumsum(starts_group)
    touches = np.bincount(group)
    sums = np.bincount(group, weights=ordered)
    return Levels(sums / touches, touches.astype(np.int64))


def support_resistance(
    high: FloatArray, low: FloatArray, order: int = 2, tolerance: float = 0.005
) -> SupportResistance:
    """Resistance from clustered swing highs, support from clustered swing lows."""
    return SupportResistance(
        support=cluster_levels(low[swing_lows(low, order)], tolerance),
        resistance=cluster_levels(high[swing_highs(high, order)], tolerance),
    )
