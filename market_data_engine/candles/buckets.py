"""Bucket alignment: timeframe widths and vectorised session lookup per exchange calendar.

Every bucket is aligned to the open of the session that contains it and cut at
the session close. For NSE (09:15-15:30 IST) that gives 5m buckets at 09:15,
09:20, ...; 1h buckets 09:15-10:15, ..., 15:15-15:30 (the last one partial); and
a daily bucket equal to the session. For a 24x7 calendar the sessions are UTC
days, so the same rule gives UTC-aligned buckets (1h at :00 UTC, 1d = UTC day).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import numpy as np

from shared.contracts import Timeframe

NS = 1_000_000_000
DAY_NS = 86_400 * NS
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TIMEFRAMES: tuple[Timeframe, ...] = tuple(Timeframe)
"""All timeframes in their canonical order (1m, 5m, 15m, 1h, 1d); the code of a timeframe
is its index here."""

WIDTH_NS: dict[Timeframe, int | None] = {
    Timeframe.M1: 60 * NS,
    Timeframe.M5: 300 * NS,
    Timeframe.M15: 900 * NS,
    Timeframe.H1: 3_600 * NS,
    Timeframe.D1: None,  # the whole session
}
MINUTE_NS = 60 * NS
TF_CODE: dict[Timeframe, int] = {tf: i for i, tf in enumerate(TIMEFRAMES)}
ROLLUP_CODES: tuple[int, ...] = tuple(range(1, len(TIMEFRAMES)))
"""Codes of the timeframes rolled up from closed 1m candles."""


class SessionCalendar(Protocol):
    """What bucketing needs from an exchange calendar (shared.calendar satisfies it)."""

    def session_bounds(self, day: date) -> tuple[datetime, datetime] | None: ...


def to_ns(ts: datetime) -> int:
    """An aware datetime as integer UTC epoch nanoseconds."""
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return duration_ns(ts - EPOCH)


def duration_ns(delta: timedelta) -> int:
    """A timedelta as integer nanoseconds."""
    return (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1_000


def from_ns(ns: int) -> datetime:
    """Integer UTC epoch nanoseconds as an aware UTC datetime (microsecond precision)."""
    return EPOCH + timedelta(microseconds=ns // 1_000)


def bucket_bounds(
    ts: np.ndarray, s_open: np.ndarray, s_close: np.ndarray, width: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (ns) of each timestamp's bucket of ``width``, cut at the session close."""
    if width is None:
        return s_open, s_close
    start = s_open + ((ts - s_open) // width) * width
    return start, np.minimum(start + width, s_close)


class SessionTable:
    """Sessions of one calendar as sorted arrays, for looking up many timestamps at once.

    Sessions are loaded lazily for the days the ticks fall on (plus a day either
    side, so any calendar time zone is covered) and kept.
    """

    def __init__(self, calendar: SessionCalendar) -> None:
        self.calendar = calendar
        self._bounds: dict[int, tuple[int, int]] = {}  # local day ordinal -> (open, close) ns
        self._lo = 0  # covered UTC day range [lo, hi], empty while lo > hi
        self._hi = -1
        self._opens = np.empty(0, dtype=np.int64)
        self._closes = np.empty(0, dtype=np.int64)

    def lookup(self, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each timestamp: whether it is inside a session, and that session's open and close."""
        if ts.size == 0:
            empty = np.empty(0, dtype=np.int64)
            return np.empty(0, dtype=bool), empty, empty
        self._cover(int(ts.min()) // DAY_NS, int(ts.max()) // DAY_NS)
        if self._opens.size == 0:
            zeros = np.zeros(ts.size, dtype=np.int64)
            return np.zeros(ts.size, dtype=bool), zeros, zeros
        k = np.searchsorted(self._opens, ts, side="right") - 1
        kc = np.maximum(k, 0)
        s_open = self._opens[kc]
        s_close = self._closes[kc]
        inside = (k >= 0) & (ts < s_close)
        return inside, s_open, s_close

    def _cover(self, lo: int, hi: int) -> None:
        if self._lo <= lo and hi <= self._hi:
            return
        new_lo, new_hi = (lo, hi) if self._lo > self._hi else (min(lo, self._lo), max(hi, self._hi))
        first = date.fromordinal(EPOCH.date().toordinal() + new_lo - 1)
        for i in range(new_hi - new_lo + 3):
            day = first + timedelta(days=i)
            key = day.toordinal()
            if key in self._bounds:
                continue
            bounds = self.calendar.session_bounds(day)
            if bounds is not None:
                self._bounds[key] = (to_ns(bounds[0]), to_ns(bounds[1]))
        sessions = sorted(self._bounds.values())
        self._opens = np.array([s[0] for s in sessions], dtype=np.int64)
        self._closes = np.array([s[1] for s in sessions], dtype=np.int64)
        self._lo, self._hi = new_lo, new_hi
