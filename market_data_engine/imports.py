"""Importing 1m candles from a file into the tick store, with their 5m/15m/1h/1d roll-ups.

A file is CSV or Parquet with the columns ``timestamp,open,high,low,close,volume``
(any order, names case-insensitive, other columns ignored): one row per closed 1m
candle of one symbol, ``timestamp`` its start in ISO-8601 with a UTC offset
(``2025-12-01T09:15:00+05:30``, ``...Z``; in Parquet also a time-zone-aware
datetime). The whole file is checked before anything is written; the first problem
is reported with its line (the header is line 1; in Parquet, the row) and column,
and nothing is stored. Rows are stored under their (symbol, timeframe, start), so
importing a file again replaces what it wrote and adds nothing.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl

from market_data_engine.candles.buckets import MINUTE_NS, SessionTable, to_ns
from market_data_engine.candles.history import (
    MinuteBars,
    bars_from_candles,
    minute_messages,
    rolled_up,
)
from shared.calendar import Calendar
from shared.contracts import CandleMsg, Timeframe
from shared.instruments import InstrumentCatalog
from shared.tickstore import TickStore

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
_PRICES = ("open", "high", "low", "close")


class MalformedFile(ValueError):
    """A file that cannot be imported as it is; names the line (or row) and column."""

    def __init__(self, path: Path, line: int, column: str | None, message: str) -> None:
        where = f"{path}:{line}" + (f": column {column!r}" if column else "")
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class ImportReport:
    symbol: str
    minutes: int
    """1m candles read from the file (and stored)."""
    rolled_up: int
    """5m/15m/1h/1d candles stored from them."""
    first: datetime
    last: datetime
    """Start of the first and the last 1m candle."""


@dataclass(frozen=True, slots=True)
class _Rows:
    """Cells as text (CSV) or values (Parquet), each with the line it is reported under."""

    cells: dict[str, list[object]]
    lines: list[int]


def read_minutes(path: Path, symbol: str, calendar: Calendar, now: datetime) -> MinuteBars:
    """Read and check a file of 1m candles; ``MalformedFile`` at the first problem."""
    rows = _read(path)
    n = len(rows.lines)
    if n == 0:
        raise MalformedFile(path, 2, None, "no candles: the file has only a header")
    start = np.empty(n, dtype=np.int64)
    values = {name: np.empty(n, dtype=np.float64) for name in (*_PRICES, "volume")}
    for i, line in enumerate(rows.lines):
        start[i] = _timestamp(path, line, rows.cells["timestamp"][i], now)
        for name, column in values.items():
            column[i] = _number(path, line, name, rows.cells[name][i])
        _check_row(path, line, start, values, i)
    inside, s_open, s_close = SessionTable(calendar).lookup(start)
    aligned = inside & ((start - s_open) % MINUTE_NS == 0)
    if not aligned.all():
        i = int(np.flatnonzero(~aligned)[0])
        raise MalformedFile(
            path,
            rows.lines[i],
            "timestamp",
            f"{_iso(start[i])} is not the start of a minute of a {calendar.name} session",
        )
    return MinuteBars(
        symbol=symbol,
        start=start,
        end=np.minimum(start + MINUTE_NS, s_close),
        s_open=s_open,
        s_close=s_close,
        open=values["open"],
        high=values["high"],
        low=values["low"],
        close=values["close"],
        volume=values["volume"],
        trades=np.zeros(n, dtype=np.int64),  # a file of bars does not say
    )


async def import_minutes(
    store: TickStore,
    catalog: InstrumentCatalog,
    path: Path,
    symbol: str,
    now: datetime,
) -> ImportReport:
    """Check ``path`` in full, then store its 1m candles and their roll-ups, and flush."""
    instrument = catalog.get(symbol.upper())
    calendar = catalog.calendar(instrument.symbol)
    bars = read_minutes(path, instrument.symbol, calendar, now)
    higher = await store_minutes(store, calendar, bars, until_ns=to_ns(now))
    first, last = int(bars.start[0]), int(bars.start[-1])
    return ImportReport(instrument.symbol, len(bars), higher, _dt(first), _dt(last))


async def store_minutes(
    store: TickStore, calendar: Calendar, bars: MinuteBars, *, until_ns: int
) -> int:
    """Store checked 1m ``bars`` and the 5m/15m/1h/1d buckets they complete, and flush.

    Buckets ending after ``until_ns`` are left for a later write (their minutes are not
    all known yet). Returns how many rolled-up candles were written.
    """
    if not len(bars):
        return 0
    symbol = bars.symbol
    # Stored minutes of the sessions the bars touch: a bucket rolled up from the bars
    # keeps the minutes it already had from elsewhere.
    span_open, span_close = int(bars.s_open[0]), int(bars.s_close[-1])
    stored = await store.query_candles(
        symbol,
        Timeframe.M1,
        _dt(span_open),
        _dt(span_close),
        limit=(span_close - span_open) // MINUTE_NS + 1,  # every minute there can be
    )
    others = bars_from_candles(symbol, stored, calendar)
    others = others.take(~np.isin(others.start, bars.start))
    every = MinuteBars.concat(symbol, [others, bars])
    every = every.take(np.argsort(every.start, kind="stable"))
    higher = rolled_up(every, after_ns=int(bars.start[0]), until_ns=until_ns)
    candles: list[CandleMsg] = minute_messages(bars) + higher
    await store.write_candles(candles)
    await store.flush()
    return len(higher)


def _read(path: Path) -> _Rows:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise MalformedFile(path, 1, None, "expected a .csv or .parquet file")
    if not path.is_file():
        raise MalformedFile(path, 1, None, "no such file")
    return _read_csv(path) if suffix == ".csv" else _read_parquet(path)


def _read_csv(path: Path) -> _Rows:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, [])
            index = _column_index(path, header)
            cells: dict[str, list[object]] = {c: [] for c in COLUMNS}
            lines: list[int] = []
            for row in reader:
                if not row:
                    continue  # a blank line
                if len(row) != len(header):
                    raise MalformedFile(
                        path,
                        reader.line_num,
                        None,
                        f"{len(row)} fields where the header names {len(header)}",
                    )
                for name, i in index.items():
                    cells[name].append(row[i])
                lines.append(reader.line_num)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise MalformedFile(path, reader.line_num, None, f"not readable: {exc}") from exc
    return _Rows(cells, lines)


def _read_parquet(path: Path) -> _Rows:
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        text = str(exc).strip()
        raise MalformedFile(
            path, 1, None, f"not readable: {text.splitlines()[0] if text else type(exc).__name__}"
        ) from exc
    index = _column_index(path, frame.columns)
    columns = frame.columns
    return _Rows(
        cells={name: frame[columns[i]].to_list() for name, i in index.items()},
        lines=list(range(1, frame.height + 1)),  # Parquet has no lines: rows from 1
    )


def _column_index(path: Path, header: list[str]) -> dict[str, int]:
    """Where each required column is (names compared without case or surrounding spaces)."""
    names = [h.strip().lower() for h in header]
    for name in COLUMNS:
        if names.count(name) > 1:
            raise MalformedFile(path, 1, name, "named twice in the header")
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise MalformedFile(
            path, 1, missing[0], f"missing; the header must name {', '.join(COLUMNS)}"
        )
    return {name: names.index(name) for name in COLUMNS}


def _timestamp(path: Path, line: int, cell: object, now: datetime) -> int:
    if isinstance(cell, datetime):
        ts = cell
    elif isinstance(cell, str) and cell.strip():
        text = cell.strip()
        try:
            ts = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise MalformedFile(
                path, line, "timestamp", f"{text!r} is not an ISO-8601 date and time"
            ) from None
    else:
        raise MalformedFile(path, line, "timestamp", "empty")
    if ts.tzinfo is None:
        raise MalformedFile(
            path, line, "timestamp", f"{ts.isoformat()} has no UTC offset (add +05:30, Z, ...)"
        )
    if ts + timedelta(minutes=1) > now:
        raise MalformedFile(
            path, line, "timestamp", f"{ts.isoformat()}: that minute has not closed yet"
        )
    return to_ns(ts)


def _number(path: Path, line: int, column: str, cell: object) -> float:
    if isinstance(cell, bool) or cell is None or (isinstance(cell, str) and not cell.strip()):
        raise MalformedFile(path, line, column, "empty")
    try:
        value = float(cell) if isinstance(cell, str | int | float | Decimal) else math.nan
    except ValueError:
        raise MalformedFile(path, line, column, f"{cell!r} is not a number") from None
    if not math.isfinite(value):
        raise MalformedFile(path, line, column, f"{cell!r} is not a finite number")
    if column in _PRICES and value <= 0:
        raise MalformedFile(path, line, column, f"a price must be positive, not {cell}")
    if value < 0:
        raise MalformedFile(path, line, column, f"must not be negative, not {cell}")
    return value


def _check_row(
    path: Path,
    line: int,
    start: np.ndarray,
    values: dict[str, np.ndarray],
    i: int,
) -> None:
    ts = int(start[i])
    if ts % MINUTE_NS:
        raise MalformedFile(path, line, "timestamp", f"{_iso(ts)} is not on a whole minute")
    if i and ts <= int(start[i - 1]):
        raise MalformedFile(
            path,
            line,
            "timestamp",
            f"{_iso(ts)} does not come after {_iso(int(start[i - 1]))} (rows must be in time "
            "order, one per minute)",
        )
    o, h, lo, c = (float(values[name][i]) for name in _PRICES)
    if h < max(o, c, lo):
        raise MalformedFile(path, line, "high", f"{h} is below the open, low or close")
    if lo > min(o, c):
        raise MalformedFile(path, line, "low", f"{lo} is above the open or close")


def _dt(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)


def _iso(ns: int) -> str:
    return _dt(ns).isoformat().replace("+00:00", "Z")
