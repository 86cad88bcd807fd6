"""In-process tick store for the embedded profile: bounded per symbol, optional Parquet files.

Nothing to install or run: ticks and candles live in numpy chunks per symbol
(per symbol and timeframe for candles), each trimmed to its newest rows. With
a directory, ``flush()``/``close()`` write Parquet files that the next start
loads again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from shared.contracts import CandleMsg, TickMsg, Timeframe
from shared.tickstore._series import Columns, Series
from shared.tickstore.base import (
    DEFAULT_QUERY_LIMIT,
    TickColumns,
    clean_ticks,
    from_ns,
    latest_per_symbol,
    time_bounds,
    to_ns,
)

TICKS_FILE = "ticks.parquet"
CANDLES_FILE = "candles.parquet"
_CANDLE_VALUES = ("open", "high", "low", "close", "volume")


class LocalTickStore:
    """TickStore held in memory (numpy), bounded per symbol; Parquet persistence if ``path``."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        max_ticks_per_symbol: int = 5_000,
        max_candles_per_series: int = 1_000,
    ) -> None:
        if max_ticks_per_symbol <= 0 or max_candles_per_series <= 0:
            raise ValueError("per-symbol bounds must be positive")
        self.path = Path(path) if path is not None else None
        self.max_ticks_per_symbol = max_ticks_per_symbol
        self.max_candles_per_series = max_candles_per_series
        self._ticks: dict[str, Series] = {}
        self._candles: dict[tuple[str, Timeframe], Series] = {}
        self._unfiled: list[list[CandleMsg]] = []  # accepted candles not in their series yet
        self._filing = False
        self._latest: dict[str, tuple[int, float, float]] = {}
        self._counts = {"written": 0, "written_candles": 0, "dropped_invalid": 0}
        self._dirty = False
        self._persist_lock = asyncio.Lock()
        if self.path is not None:
            self._load(self.path)

    async def start(self) -> None:
        """Nothing to connect to (files, if any, were loaded by the constructor)."""

    async def close(self) -> None:
        await self.flush()

    async def __aenter__(self) -> LocalTickStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- writes --------------------------------------------------------------
    async def write_ticks(
        self,
        symbols: npt.NDArray[Any],
        ts_ns: npt.NDArray[Any],
        prices: npt.NDArray[Any],
        qtys: npt.NDArray[Any],
    ) -> None:
        """Store a batch of ticks (parallel arrays), split by symbol."""
        cols, dropped = clean_ticks(symbols, ts_ns, prices, qtys)
        self._counts["dropped_invalid"] += dropped
        if len(cols) == 0:
            return
        for sym, idx in _groups(cols.symbol):
            series = self._ticks.get(sym)
            if series is None:
                series = self._ticks[sym] = Series(self.max_ticks_per_symbol)
            series.append((cols.ts_ns[idx], cols.price[idx], cols.qty[idx]))
        for sym, row in latest_per_symbol(cols).items():
            old = self._latest.get(sym)
            if old is None or row[0] >= old[0]:
                self._latest[sym] = row
        self._counts["written"] += len(cols)
        self._dirty = True

    async def write_candles(self, candles: Sequence[CandleMsg]) -> None:
        """Store candles; one with the same (symbol, timeframe, start) replaces the old one.

        They are filed into their series as soon as the caller yields to the event loop (or
        at the next read, whichever comes first): a burst's writer, which stores its candles
        before it publishes them, does not hold its events back for the filing.
        """
        if not candles:
            return
        self._unfiled.append(list(candles))
        self._counts["written_candles"] += len(candles)
        self._dirty = True
        if not self._filing:
            self._filing = True
            asyncio.get_running_loop().call_soon(self._file_candles)

    def _file_candles(self) -> None:
        self._filing = False
        batches, self._unfiled = self._unfiled, []
        for candles in batches:
            self._file(candles)

    def _file(self, candles: Sequence[CandleMsg]) -> None:
        # Columns of the whole batch at once, then one contiguous slice per series: a burst
        # of thousands of candles (one per symbol and timeframe) costs a few vectorised
        # passes plus one append per series.
        index: dict[tuple[str, Timeframe], int] = {}
        group = np.fromiter(
            (index.setdefault((c.symbol, c.timeframe), len(index)) for c in candles),
            dtype=np.int64,
            count=len(candles),
        )
        order = np.argsort(group, kind="stable")  # keeps each series' candles in order
        cols = tuple(col[order] for col in _candle_columns(candles))
        bounds = np.concatenate(([0], np.cumsum(np.bincount(group)))).tolist()
        for key, g in index.items():
            series = self._candles.get(key)
            if series is None:
                series = self._candles[key] = Series(self.max_candles_per_series, unique_keys=True)
            a, b = bounds[g], bounds[g + 1]
            series.append(tuple(col[a:b] for col in cols))

    async def flush(self) -> None:
        """Write the Parquet files when a directory is configured and anything changed."""
        if self.path is None or not self._dirty:
            return
        async with self._persist_lock:
            ticks, candles = self._snapshot()
            self._dirty = False
            await asyncio.to_thread(_write_files, self.path, ticks, candles)

    # -- queries -------------------------------------------------------------
    async def query_ticks(
        self,
        symbol: str,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = DEFAULT_QUERY_LIMIT,
    ) -> TickColumns:
        series = self._ticks.get(symbol)
        lo, hi = time_bounds(start, end)
        window = series.window(lo, hi, limit) if series is not None else None
        if window is None or window[0].shape[0] == 0:
            return TickColumns.empty()
        ts, price, qty = window
        return TickColumns.of_symbol(
            symbol, ts.astype(np.int64), price.astype(np.float64), qty.astype(np.float64)
        )

    async def query_candles(
        self,
        symbol: str,
        timeframe: Timeframe,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = DEFAULT_QUERY_LIMIT,
    ) -> list[CandleMsg]:
        self._file_candles()
        series = self._candles.get((symbol, Timeframe(timeframe)))
        lo, hi = time_bounds(start, end)
        window = series.window(lo, hi, limit) if series is not None else None
        if window is None:
            return []
        return _candle_msgs(symbol, Timeframe(timeframe), window)

    async def latest_tick(self, symbol: str) -> TickMsg | None:
        known = self._latest.get(symbol)
        if known is None:
            return None
        ts, price, qty = known
        return TickMsg(symbol=symbol, ts=from_ns(ts), price=price, qty=qty)

    def stats(self) -> dict[str, Any]:
        """Counters; ``shed`` counts ticks trimmed by the per-symbol bound."""
        self._file_candles()
        return {
            "backend": "local",
            "connected": True,
            "buffered": 0,
            "buffered_candles": 0,
            "stored": sum(s.rows for s in self._ticks.values()),
            "stored_candles": sum(s.rows for s in self._candles.values()),
            "symbols": len(self._ticks),
            "shed": sum(s.shed for s in self._ticks.values()),
            "shed_candles": sum(s.shed for s in self._candles.values()),
            "failed_writes": 0,
            **self._counts,
            "path": str(self.path) if self.path is not None else None,
        }

    # -- persistence -----------------------------------------------------------
    def _snapshot(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        self._file_candles()
        tick_frames = []
        for sym, series in self._ticks.items():
            cols = series.compact()
            if cols is not None:
                ts, price, qty = cols
                tick_frames.append(
                    pl.DataFrame({"ts_ns": ts, "price": price, "qty": qty}).with_columns(
                        symbol=pl.lit(sym, dtype=pl.String)
                    )
                )
        candle_frames = []
        for (sym, tf), series in self._candles.items():
            cols = series.compact()
            if cols is not None:
                names = ("start_ns", "end_ns", *_CANDLE_VALUES, "trades")
                frame = pl.DataFrame(dict(zip(names, cols, strict=True)))
                candle_frames.append(
                    frame.with_columns(
                        symbol=pl.lit(sym, dtype=pl.String), timeframe=pl.lit(tf.value)
                    )
                )
        ticks = pl.concat(tick_frames) if tick_frames else pl.DataFrame()
        candles = pl.concat(candle_frames) if candle_frames else pl.DataFrame()
        return ticks, candles

    def _load(self, path: Path) -> None:
        ticks_file, candles_file = path / TICKS_FILE, path / CANDLES_FILE
        if ticks_file.exists():
            df = pl.read_parquet(ticks_file)
            if df.height:
                cols = TickColumns(
                    df["symbol"].to_numpy().astype(object),
                    df["ts_ns"].to_numpy().astype(np.int64),
                    df["price"].to_numpy().astype(np.float64),
                    df["qty"].to_numpy().astype(np.float64),
                )
                for sym, idx in _groups(cols.symbol):
                    series = self._ticks[sym] = Series(self.max_ticks_per_symbol)
                    series.append((cols.ts_ns[idx], cols.price[idx], cols.qty[idx]))
                self._latest.update(latest_per_symbol(cols))
        if candles_file.exists():
            df = pl.read_parquet(candles_file)
            for (sym, tf), part in df.partition_by(
                "symbol", "timeframe", as_dict=True, maintain_order=True
            ).items():
                series = Series(self.max_candles_per_series, unique_keys=True)
                series.append(
                    tuple(
                        part[name].to_numpy()
                        for name in ("start_ns", "end_ns", *_CANDLE_VALUES, "trades")
                    )
                )
                self._candles[(str(sym), Timeframe(str(tf)))] = series


def _groups(symbols: npt.NDArray[np.object_]) -> list[tuple[str, npt.NDArray[np.intp]]]:
    """(symbol, row indices in arrival order) for each symbol of a batch."""
    if symbols.shape[0] == 0:
        return []
    first = symbols[0]
    if bool(np.all(symbols == first)):
        return [(str(first), np.arange(symbols.shape[0]))]
    frame = pl.DataFrame({"s": pl.Series(symbols, dtype=pl.String)}).with_row_index("i")
    # A stable sort keeps each symbol's ticks in arrival order.
    ordered = frame.sort("s", maintain_order=True)
    order = ordered["i"].to_numpy().astype(np.intp)
    runs = ordered["s"].rle()
    lengths = runs.struct.field("len").to_numpy()
    values = runs.struct.field("value").to_list()
    bounds = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64))).tolist()
    return [(str(v), order[bounds[k] : bounds[k + 1]]) for k, v in enumerate(values)]


def _candle_columns(items: Sequence[CandleMsg]) -> Columns:
    return (
        np.fromiter((to_ns(c.start) for c in items), dtype=np.int64, count=len(items)),
        np.fromiter((to_ns(c.end) for c in items), dtype=np.int64, count=len(items)),
        *(
            np.fromiter((getattr(c, f) for c in items), dtype=np.float64, count=len(items))
            for f in _CANDLE_VALUES
        ),
        np.fromiter((c.trades for c in items), dtype=np.int64, count=len(items)),
    )


def _candle_msgs(symbol: str, timeframe: Timeframe, cols: Columns) -> list[CandleMsg]:
    start, end, o, h, low, c, v, trades = (col.tolist() for col in cols)
    return [
        CandleMsg(
            symbol=symbol,
            timeframe=timeframe,
            start=from_ns(start[i]),
            end=from_ns(end[i]),
            open=o[i],
            high=h[i],
            low=low[i],
            close=c[i],
            volume=v[i],
            trades=trades[i],
        )
        for i in range(len(start))
    ]


def _write_files(path: Path, ticks: pl.DataFrame, candles: pl.DataFrame) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for frame, name in ((ticks, TICKS_FILE), (candles, CANDLES_FILE)):
        target = path / name
        if frame.height == 0:
            target.unlink(missing_ok=True)
            continue
        tmp = path / f".{name}.tmp"
        frame.write_parquet(tmp)
        os.replace(tmp, target)  # readers never see a half-written file
