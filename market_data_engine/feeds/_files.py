"""Reading recorded ticks and bars from CSV or Parquet files, and turning bars into ticks.

Column names, timestamp formats and the bar-to-tick convention are documented in
``docs/market-data-feeds.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from market_data_engine.ticks import TickBatch

DEFAULT_BAR_INTERVAL = timedelta(minutes=1)

_ALIASES = {
    "ts": ("ts", "timestamp", "time", "datetime", "date"),
    "price": ("price", "ltp", "last"),
    "qty": ("qty", "quantity", "size", "volume"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c"),
    "volume": ("volume", "vol", "v", "qty"),
}
_BAR_COLUMNS = ("open", "high", "low", "close")


class RecordedDataError(ValueError):
    """A recorded file cannot be read as ticks or bars."""


def read_frame(path: Path) -> pl.DataFrame:
    """A CSV or Parquet file as a data frame, chosen by suffix."""
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return pl.read_parquet(path)
    if suffix in {".csv", ".txt"} or path.name.endswith(".csv.gz"):
        return pl.read_csv(path)
    raise RecordedDataError(f"{path}: expected a .csv or .parquet file")


def load_recorded(
    paths: Sequence[Path],
    *,
    symbol: str | None = None,
    tz: str = "UTC",
    bar_interval: timedelta | None = None,
) -> TickBatch:
    """Ticks from every file (bars expanded to ticks), merged and sorted by time."""
    batches = []
    for path in paths:
        df = _canonical(read_frame(path), path, symbol)
        df = df.with_columns(ts=_epoch_ns(df["ts"], tz, path))
        if all(c in df.columns for c in _BAR_COLUMNS):
            batches.append(bars_to_ticks(df, bar_interval))
        elif "price" in df.columns:
            qty = df["qty"] if "qty" in df.columns else pl.Series([0.0] * df.height)
            batches.append(
                TickBatch(
                    df["symbol"].to_numpy().astype(object),
                    df["ts"].to_numpy().astype(np.int64),
                    df["price"].cast(pl.Float64).to_numpy(),
                    qty.cast(pl.Float64).to_numpy(),
                )
            )
        else:
            raise RecordedDataError(f"{path}: needs a price column or open/high/low/close")
    merged = TickBatch.concat(batches)
    order = np.argsort(merged.ts_ns, kind="stable")  # keeps file order within a timestamp
    return merged.select(order)


def bars_to_ticks(df: pl.DataFrame, bar_interval: timedelta | None = None) -> TickBatch:
    """Four ticks per bar: open, then low and high (high first on a down bar), then close.

    The ticks sit at 0, 1/4, 1/2 and 3/4 of the bar's interval, so each falls inside the
    bar's own bucket and rebuilding candles from them gives back the same OHLC. Volume is
    split in four; whole-number volumes are split in whole units with the remainder on the
    close tick, so the four quantities always add up to the bar's volume.
    """
    n = df.height
    if n == 0:
        return TickBatch.empty()
    ts = df["ts"].to_numpy().astype(np.int64)
    interval_ns = _interval_ns(df, ts, bar_interval)
    o, h, lo, c = (df[k].cast(pl.Float64).to_numpy() for k in _BAR_COLUMNS)
    up = c >= o
    price = np.column_stack([o, np.where(up, lo, h), np.where(up, h, lo), c])
    offsets = (np.arange(4) * (interval_ns // 4)).astype(np.int64)
    stamps = ts[:, None] + offsets[None, :]
    volume = df["volume"].cast(pl.Float64).to_numpy() if "volume" in df.columns else np.zeros(n)
    qty = _split_volume(volume)
    symbols = np.repeat(df["symbol"].to_numpy().astype(object), 4)
    return TickBatch(symbols, stamps.ravel(), price.ravel(), qty.ravel())


def _split_volume(volume: np.ndarray) -> np.ndarray:
    whole = volume == np.floor(volume)
    part = np.where(whole, np.floor(volume / 4), volume / 4)
    qty = np.repeat(part[:, None], 4, axis=1)
    qty[:, 3] = volume - 3 * part  # the close tick takes what rounding left over
    return qty


def _interval_ns(df: pl.DataFrame, ts: np.ndarray, given: timedelta | None) -> int:
    if given is not None:
        return int(given.total_seconds() * 1e9)
    # The smallest gap between consecutive bars of one symbol is the bar interval.
    gaps = (
        pl.DataFrame({"symbol": df["symbol"], "ts": ts})
        .sort("symbol", "ts")
        .select(pl.col("ts").diff().over("symbol").alias("gap"))
        .filter(pl.col("gap") > 0)["gap"]
    )
    if gaps.len() == 0:
        return int(DEFAULT_BAR_INTERVAL.total_seconds() * 1e9)
    return int(gaps.min())  # type: ignore[arg-type]


def _canonical(df: pl.DataFrame, path: Path, symbol: str | None) -> pl.DataFrame:
    lower = {c.lower(): c for c in df.columns}
    rename: dict[str, str] = {}
    is_bars = any(a in lower for a in _ALIASES["open"]) and any(
        a in lower for a in _ALIASES["close"]
    )
    wanted = ("ts", *_BAR_COLUMNS, "volume") if is_bars else ("ts", "price", "qty")
    for canon in wanted:
        for alias in _ALIASES[canon]:
            if alias in lower and lower[alias] not in rename:
                rename[lower[alias]] = canon
                break
    if "symbol" in lower:
        rename[lower["symbol"]] = "symbol"
    df = df.rename(rename).select([c for c in ("symbol", *wanted) if c in rename.values()])
    if "symbol" not in df.columns:
        if symbol is None:
            raise RecordedDataError(f"{path}: no symbol column; pass symbol=")
        df = df.with_columns(symbol=pl.lit(symbol))
    if "ts" not in df.columns:
        raise RecordedDataError(f"{path}: no timestamp column (ts, timestamp or time)")
    return df


def _epoch_ns(col: pl.Series, tz: str, path: Path) -> pl.Series:
    """Any supported timestamp column as int64 UTC epoch nanoseconds."""
    if col.dtype == pl.String:
        try:
            col = col.str.to_datetime(time_unit="ns")
        except pl.exceptions.PolarsError as exc:
            raise RecordedDataError(f"{path}: unreadable timestamps: {exc}") from exc
    if isinstance(col.dtype, pl.Datetime):
        if col.dtype.time_zone is None:
            col = col.dt.replace_time_zone(tz)
        return col.dt.epoch("ns")
    if col.dtype.is_integer():
        return _scale_epoch(col.cast(pl.Int64).to_numpy(), path)
    if col.dtype.is_float():
        return _scale_epoch(col.to_numpy(), path)
    raise RecordedDataError(f"{path}: unsupported timestamp type {col.dtype}")


def _scale_epoch(values: np.ndarray, path: Path) -> pl.Series:
    """Epoch numbers in s, ms, us or ns (told apart by magnitude) as nanoseconds."""
    if values.size == 0:
        return pl.Series(values.astype(np.int64))
    top = float(np.nanmax(np.abs(values)))
    for limit, scale in ((1e11, 10**9), (1e14, 10**6), (1e17, 10**3), (1e20, 1)):
        if top < limit:
            if values.dtype.kind == "i":  # integers stay exact: float64 would lose the ns
                return pl.Series(values.astype(np.int64) * scale)
            return pl.Series(np.rint(values * scale).astype(np.int64))
    raise RecordedDataError(f"{path}: epoch timestamps out of range")
