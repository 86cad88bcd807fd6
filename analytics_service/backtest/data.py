"""Candles for a backtest: one symbol's bars as numpy arrays, read and checked from CSV or Parquet.

A file has the columns ``timestamp,open,high,low,close,volume``; timestamps are
ISO-8601 (a time without an offset is UTC) and mark the start of each bar. Every
problem is reported with the line (CSV: the header is line 1) and the column, and
nothing is run on a file that has one: missing columns, unparsable values,
unsorted or duplicate timestamps, non-positive prices, a high below the low.
Gaps (a step longer than the timeframe inside one day) are not errors: they are
counted and listed in the report.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from shared.contracts import CandleMsg, Timeframe
from shared.errors import Unprocessable
from strategy_workers.strategies.base import CandleWindow

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
PRICES = ("open", "high", "low", "close")
TIMEFRAME_NS: dict[Timeframe, int] = {
    Timeframe.M1: 60 * 10**9,
    Timeframe.M5: 300 * 10**9,
    Timeframe.M15: 900 * 10**9,
    Timeframe.H1: 3600 * 10**9,
    Timeframe.D1: 86_400 * 10**9,
}
MAX_GAPS_LISTED = 20


class BadData(Unprocessable):
    """Candles that cannot be backtested; ``line`` and ``column`` say where (line 1: header)."""

    code = "bad_backtest_data"

    def __init__(self, message: str, *, line: int | None = None, column: str | None = None):
        where = ", ".join(
            part
            for part in (
                f"line {line}" if line is not None else "",
                f"column {column!r}" if column else "",
            )
            if part
        )
        super().__init__(
            f"{where}: {message}" if where else message,
            details=[{"line": line, "column": column, "message": message}],
        )
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class Gap:
    """Bars missing after ``after`` (inside one UTC day; session breaks are not gaps)."""

    after: datetime
    missing_bars: int


@dataclass(frozen=True, slots=True, eq=False)
class Bars:
    """One symbol's candles, oldest first; ``ts``: each bar's start, ns since the epoch (UTC)."""

    symbol: str
    timeframe: Timeframe
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    gaps: tuple[Gap, ...] = field(default=())
    gap_count: int = 0

    def __len__(self) -> int:
        return len(self.close)

    @property
    def step_ns(self) -> int:
        return TIMEFRAME_NS[self.timeframe]

    def window(self) -> CandleWindow:
        """The whole history as the strategies' window type (views, no copy)."""
        return CandleWindow(
            self.symbol, self.timeframe, self.ts, self.open, self.high, self.low, self.close,
            self.volume,
        )  # fmt: skip

    def time(self, i: int) -> datetime:
        """Start of bar ``i``."""
        return from_ns(int(self.ts[i]))

    def end(self, i: int) -> datetime:
        """End of bar ``i`` (its start plus the timeframe): when its close is known."""
        return from_ns(int(self.ts[i]) + self.step_ns)

    def slice(self, lo: int, hi: int) -> Bars:
        """Bars ``lo`` to ``hi`` (exclusive) as a history of their own (gaps counted again)."""
        ts = self.ts[lo:hi]
        gaps, count = _gaps(ts, self.step_ns)
        return Bars(
            self.symbol, self.timeframe, ts, self.open[lo:hi], self.high[lo:hi],
            self.low[lo:hi], self.close[lo:hi], self.volume[lo:hi], gaps, count,
        )  # fmt: skip

    def data_hash(self) -> str:
        """SHA-256 of the bars (symbol, timeframe and every value): the run card's data id."""
        digest = hashlib.sha256(f"{self.symbol}|{self.timeframe}|".encode())
        for arr in (self.ts, self.open, self.high, self.low, self.close, self.volume):
            digest.update(np.ascontiguousarray(arr).tobytes())
        return digest.hexdigest()


def to_ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def from_ns(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


def bars_from_arrays(
    symbol: str,
    timeframe: Timeframe,
    ts: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    *,
    first_line: int = 2,
) -> Bars:
    """Checked bars from arrays; ``first_line`` is the file line of element 0 (for errors)."""
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    arrays = {
        name: np.ascontiguousarray(a, dtype=np.float64)
        for name, a in zip((*PRICES, "volume"), (open_, high, low, close, volume), strict=True)
    }
    if not len(ts):
        raise BadData("no candles in the data")
    for name, values in arrays.items():
        bad = ~np.isfinite(values) | (values <= 0 if name in PRICES else values < 0)
        if bad.any():
            i = int(np.argmax(bad))
            what = "not a positive price" if name in PRICES else "a negative volume"
            raise BadData(f"{float(values[i]):g} is {what}", line=first_line + i, column=name)
    for name in ("open", "close", "low"):
        above = arrays[name] > arrays["high"] * (1 + 1e-12)
        if above.any():
            i = int(np.argmax(above))
            raise BadData(f"{name} is above the high", line=first_line + i, column=name)
    below = arrays["low"] > np.minimum(arrays["open"], arrays["close"]) * (1 + 1e-12)
    if below.any():
        i = int(np.argmax(below))
        raise BadData("low is above the open or the close", line=first_line + i, column="low")
    step = np.diff(ts)
    if (step <= 0).any():
        i = int(np.argmax(step <= 0)) + 1
        kind = "duplicate" if step[i - 1] == 0 else "unsorted (earlier than the line before)"
        raise BadData(f"timestamp is {kind}", line=first_line + i, column="timestamp")
    gaps, count = _gaps(ts, TIMEFRAME_NS[timeframe])
    return Bars(
        symbol, timeframe, ts, arrays["open"], arrays["high"], arrays["low"], arrays["close"],
        arrays["volume"], gaps, count,
    )  # fmt: skip


def _gaps(ts: np.ndarray, step_ns: int) -> tuple[tuple[Gap, ...], int]:
    if len(ts) < 2:
        return (), 0
    day = ts // (86_400 * 10**9)
    step = np.diff(ts)
    where = np.flatnonzero((step > step_ns) & (day[1:] == day[:-1]))
    listed = tuple(
        Gap(from_ns(int(ts[i])), int(step[i] // step_ns) - 1) for i in where[:MAX_GAPS_LISTED]
    )
    return listed, len(where)


DataFormat = Literal["csv", "parquet"]


def load_bars(path: Path, symbol: str, timeframe: Timeframe) -> Bars:
    """Bars from a ``.csv`` or ``.parquet`` file (by its suffix)."""
    if not path.exists():
        raise BadData(f"no file {path}")
    fmt: DataFormat = "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"
    return parse_bars(path.read_bytes(), fmt, symbol, timeframe)


def parse_bars(content: bytes, fmt: DataFormat, symbol: str, timeframe: Timeframe) -> Bars:
    """Bars from the bytes of a CSV or Parquet file, checked as ``load_bars`` checks a file."""
    if fmt == "parquet":
        try:
            frame = pl.read_parquet(io.BytesIO(content))
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise BadData(f"cannot read the Parquet file: {type(exc).__name__}") from None
        return _from_frame(frame, symbol, timeframe, header_lines=0)
    try:
        frame = pl.read_csv(io.BytesIO(content), infer_schema=False, has_header=True)
    except pl.exceptions.PolarsError as exc:
        raise BadData(f"cannot read the CSV file: {exc}", line=1) from None
    return _from_frame(frame, symbol, timeframe, header_lines=1)


def _from_frame(frame: pl.DataFrame, symbol: str, timeframe: Timeframe, header_lines: int) -> Bars:
    names = {c.strip().lower(): c for c in frame.columns}
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise BadData(
            f"missing column(s) {', '.join(missing)} (expected {','.join(COLUMNS)})",
            line=1 if header_lines else None,
            column=missing[0],
        )
    frame = frame.select([pl.col(names[c]).alias(c) for c in COLUMNS])
    first_line = header_lines + 1
    if not frame.height:
        raise BadData("no candles in the data", line=first_line)
    ts = _timestamps(frame["timestamp"], first_line)
    values = {}
    for name in (*PRICES, "volume"):
        col = frame[name]
        parsed = col.cast(pl.Float64, strict=False) if col.dtype != pl.Float64 else col
        bad = parsed.is_null() & col.is_not_null() | col.is_null()
        if bad.any():
            i = int(bad.arg_max() or 0)
            raise BadData(f"{col[i]!r} is not a number", line=first_line + i, column=name)
        values[name] = parsed.to_numpy()
    return bars_from_arrays(
        symbol, timeframe, ts, values["open"], values["high"], values["low"], values["close"],
        values["volume"], first_line=first_line,
    )  # fmt: skip


def _timestamps(col: pl.Series, first_line: int) -> np.ndarray:
    if isinstance(col.dtype, pl.Datetime):  # Parquet: a naive time is UTC
        zone = col.dtype.time_zone
        parsed = (
            col.dt.replace_time_zone("UTC") if zone is None else col.dt.convert_time_zone("UTC")
        )
    else:
        text = col.cast(pl.Utf8).str.strip_chars()
        parsed = text.str.to_datetime(time_zone="UTC", strict=False, time_unit="ns")
        bad = parsed.is_null()
        if bad.any():
            i = int(bad.arg_max() or 0)
            raise BadData(
                f"{text[i]!r} is not an ISO-8601 timestamp", line=first_line + i, column="timestamp"
            )
    ns = parsed.dt.cast_time_unit("ns").dt.replace_time_zone(None).cast(pl.Int64)
    return ns.to_numpy()


@dataclass(frozen=True, slots=True, eq=False)
class Ticks:
    """One symbol's trades in time order: ns since the epoch (UTC), price, quantity."""

    ts: np.ndarray
    price: np.ndarray
    qty: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)


def bars_from_ticks(symbol: str, timeframe: Timeframe, ticks: Ticks) -> Bars:
    """Candles of ``ticks`` in buckets aligned to the epoch (every NSE and 24x7 minute bar)."""
    step = TIMEFRAME_NS[timeframe]
    if not len(ticks):
        raise BadData("no ticks")
    if (np.diff(ticks.ts) < 0).any():
        raise BadData("ticks are not in time order")
    bucket = ticks.ts // step
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(bucket)]
    price = ticks.price
    return bars_from_arrays(
        symbol,
        timeframe,
        bucket[starts] * step,
        price[starts],
        np.maximum.reduceat(price, starts),
        np.minimum.reduceat(price, starts),
        price[ends - 1],
        np.add.reduceat(ticks.qty, starts),
    )


def bars_from_candles(symbol: str, timeframe: Timeframe, candles: list[CandleMsg]) -> Bars:
    """Bars from stored candles (the tick store's), checked like a file."""
    if not candles:
        raise BadData(f"no {timeframe} candles of {symbol} in the range")
    return bars_from_arrays(
        symbol,
        timeframe,
        np.array([to_ns(c.start) for c in candles], dtype=np.int64),
        np.array([c.open for c in candles]),
        np.array([c.high for c in candles]),
        np.array([c.low for c in candles]),
        np.array([c.close for c in candles]),
        np.array([c.volume for c in candles]),
        first_line=1,
    )
