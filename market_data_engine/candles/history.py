"""Candles from 1m bars that did not come from ticks (simulated history, imported files).

A run of closed 1m bars of one symbol becomes its 1m candles and the 5m/15m/1h/1d
candles rolled up from them, bucketed exactly as the live engine buckets ticks
(session aligned, cut at the close), so history and live candles meet seamlessly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from market_data_engine.candles import _candles
from market_data_engine.candles._candles import Candles
from market_data_engine.candles._messages import candle_messages
from market_data_engine.candles.buckets import MINUTE_NS, SessionCalendar, SessionTable, to_ns
from shared.contracts import CandleMsg


@dataclass(frozen=True, slots=True)
class MinuteBars:
    """Closed 1m bars of one symbol in time order; times are UTC epoch ns.

    ``s_open``/``s_close`` are the bounds of each bar's session (what the roll-ups align to).
    """

    symbol: str
    start: np.ndarray
    end: np.ndarray
    s_open: np.ndarray
    s_close: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    trades: np.ndarray

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def take(self, index: np.ndarray) -> MinuteBars:
        """Bars by integer index or boolean mask."""
        return MinuteBars(
            self.symbol,
            *(getattr(self, name)[index] for name in _COLUMNS),
        )

    def since(self, ns: int) -> MinuteBars:
        """The bars that start at or after ``ns``."""
        return self.take(self.start >= ns)

    @staticmethod
    def concat(symbol: str, parts: Sequence[MinuteBars]) -> MinuteBars:
        items = [p for p in parts if len(p)]
        if not items:
            return empty_bars(symbol)
        if len(items) == 1:
            return items[0]
        return MinuteBars(
            symbol, *(np.concatenate([getattr(p, name) for p in items]) for name in _COLUMNS)
        )


_COLUMNS = (
    "start",
    "end",
    "s_open",
    "s_close",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "trades",
)


def empty_bars(symbol: str) -> MinuteBars:
    ints = np.empty(0, dtype=np.int64)
    floats = np.empty(0, dtype=np.float64)
    return MinuteBars(symbol, ints, ints, ints, ints, floats, floats, floats, floats, floats, ints)


def bars_from_candles(
    symbol: str, candles: Sequence[CandleMsg], calendar: SessionCalendar
) -> MinuteBars:
    """Stored 1m candles of ``symbol`` as bars, with their sessions from ``calendar``.

    Candles outside every session (they cannot come from the engine) are left out.
    """
    if not candles:
        return empty_bars(symbol)
    n = len(candles)

    def column(name: str) -> np.ndarray:
        return np.fromiter((getattr(c, name) for c in candles), dtype=np.float64, count=n)

    start = np.fromiter((to_ns(c.start) for c in candles), dtype=np.int64, count=n)
    inside, s_open, s_close = SessionTable(calendar).lookup(start)
    bars = MinuteBars(
        symbol=symbol,
        start=start,
        end=np.fromiter((to_ns(c.end) for c in candles), dtype=np.int64, count=n),
        s_open=s_open,
        s_close=s_close,
        open=column("open"),
        high=column("high"),
        low=column("low"),
        close=column("close"),
        volume=column("volume"),
        trades=np.fromiter((c.trades for c in candles), dtype=np.int64, count=n),
    )
    return bars if bool(inside.all()) else bars.take(inside)


def minute_messages(bars: MinuteBars) -> list[CandleMsg]:
    """The 1m candles of ``bars``."""
    return _messages(bars.symbol, _rows(bars))


def rolled_up(bars: MinuteBars, *, after_ns: int, until_ns: int) -> list[CandleMsg]:
    """The 5m/15m/1h/1d candles of ``bars`` that end after ``after_ns`` and by ``until_ns``.

    A bucket that ends after ``until_ns`` is still open (a live engine finishes it); one
    that ended by ``after_ns`` was written before. Pass every stored bar of the first
    bucket that ends after ``after_ns``, or its candle is built from part of its minutes.
    """
    if not len(bars):
        return []
    rows = _candles.merge([_candles.rollup(_rows(bars))])
    keep = (rows.end > after_ns) & (rows.end <= until_ns)
    rows = rows.take(keep)
    order = np.lexsort((rows.tf, rows.start))
    return _messages(bars.symbol, rows.take(order))


def rows_of(bars: MinuteBars, sid: int) -> Candles:
    """``bars`` as the engine's 1m rows of symbol id ``sid``."""
    return _rows(bars, sid)


def _rows(bars: MinuteBars, sid: int = 0) -> Candles:
    n = len(bars)
    return Candles(
        sid=np.full(n, sid, dtype=np.int32),
        tf=np.zeros(n, dtype=np.int8),
        start=bars.start,
        end=bars.end,
        s_open=bars.s_open,
        s_close=bars.s_close,
        open=bars.open,
        high=bars.high,
        low=bars.low,
        close=bars.close,
        volume=bars.volume,
        trades=bars.trades,
        first_ts=bars.start,
        last_ts=bars.end - 1,
    )


def _messages(symbol: str, rows: Candles) -> list[CandleMsg]:
    return candle_messages(
        [symbol], rows.sid, rows.tf, rows.start, rows.end, rows.open, rows.high, rows.low,
        rows.close, rows.volume, rows.trades,
    )  # fmt: skip


def floor_minute(ns: int) -> int:
    """``ns`` rounded down to a whole UTC minute."""
    return ns - ns % MINUTE_NS
