"""Volume-weighted average price (TA-Lib has none), anchored to each session."""

from __future__ import annotations

import numpy as np

from strategy_workers.indicators._types import FloatArray, IntArray

_NS_PER_MINUTE = 60_000_000_000
_NS_PER_DAY = 86_400_000_000_000
IST_OFFSET_MINUTES = 330


def session_ids(ts_ns: IntArray, utc_offset_minutes: int = IST_OFFSET_MINUTES) -> IntArray:
    """Local calendar day number of each timestamp: the anchor that resets VWAP daily."""
    local = ts_ns.astype(np.int64) + utc_offset_minutes * _NS_PER_MINUTE
    return np.floor_divide(local, _NS_PER_DAY)


def vwap(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    volume: FloatArray,
    sessions: IntArray | None = None,
) -> FloatArray:
    """Cumulative VWAP of the typical price, restarting where ``sessions`` changes.

    Without ``sessions`` the whole array is one session. Bars before the first
    traded volume of a session are NaN.
    """
    pv = np.cumsum((high + low + close) / 3.0 * volume)
    vol = np.cumsum(volume)
    if sessions is not None and len(sessions) > 1:
        # Subtract, from every bar, the running totals at the end of the previous session.
        starts = np.flatnonzero(sessions[1:] != sessions[:-1]) + 1
        marker = np.zeros(len(close), dtype=np.int64)
        marker[starts] = starts
        start_of = np.maximum.accumulate(marker)
        has_prev = start_of > 0
        prev = start_of - 1
        pv = pv - np.where(has_prev, pv[prev], 0.0)
        vol = vol - np.where(has_prev, vol[prev], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(vol > 0, pv / np.where(vol > 0, vol, 1.0), np.nan)
    return out
