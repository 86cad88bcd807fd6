"""Candle rows as columns of numpy arrays: merge, roll up, close.

One layout serves every timeframe. ``first_ts``/``last_ts`` are the times of the
first and last tick inside a candle; they decide which open and close win when
partial candles of one bucket are merged, so ticks may arrive out of order.
Open state holds a few rows per symbol, so updating it is cheap; the heavy
per-tick aggregation is a Polars group-by (see ``aggregate_ticks``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import polars as pl

from market_data_engine.candles.buckets import MINUTE_NS, ROLLUP_CODES, TIMEFRAMES, WIDTH_NS

_DTYPES: dict[str, type[np.generic]] = {
    "sid": np.int32,
    "tf": np.int8,
    "start": np.int64,
    "end": np.int64,
    "s_open": np.int64,
    "s_close": np.int64,
    "open": np.float64,
    "high": np.float64,
    "low": np.float64,
    "close": np.float64,
    "volume": np.float64,
    "trades": np.int64,
    "first_ts": np.int64,
    "last_ts": np.int64,
}


@dataclass(frozen=True, slots=True)
class Candles:
    """Candle rows keyed by (sid, tf, start); ``tf`` is the timeframe code (0 = 1m)."""

    sid: np.ndarray
    tf: np.ndarray
    start: np.ndarray
    end: np.ndarray
    s_open: np.ndarray  # open and close of the session the bucket belongs to
    s_close: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    trades: np.ndarray
    first_ts: np.ndarray
    last_ts: np.ndarray

    def __len__(self) -> int:
        return int(self.sid.shape[0])

    @classmethod
    def empty(cls) -> Candles:
        return cls(**{name: np.empty(0, dtype=dt) for name, dt in _DTYPES.items()})

    def take(self, index: np.ndarray) -> Candles:
        """Rows by integer index or boolean mask."""
        if index.dtype == np.bool_:
            # One mask -> indices conversion instead of one per column: indexing by a
            # boolean mask costs about four times as much as by integers.
            index = np.flatnonzero(index)
        return Candles(*[getattr(self, name)[index] for name in _NAMES])

    def with_bucket(self, tf: int, start: np.ndarray, end: np.ndarray) -> Candles:
        n = len(self)
        return Candles(
            self.sid, np.full(n, tf, dtype=np.int8), start, end, self.s_open, self.s_close,
            self.open, self.high, self.low, self.close, self.volume, self.trades,
            self.first_ts, self.last_ts,
        )  # fmt: skip

    @staticmethod
    def concat(parts: list[Candles]) -> Candles:
        items = [p for p in parts if len(p)]
        if not items:
            return Candles.empty()
        if len(items) == 1:
            return items[0]
        return Candles(*[np.concatenate([getattr(p, name) for p in items]) for name in _NAMES])


_NAMES = tuple(f.name for f in fields(Candles))


POLARS_MIN_TICKS = 4_096
"""Batches at least this big are aggregated by Polars; below it Polars' fixed cost per call
(a few hundred microseconds) outweighs its speed, and a numpy sort does the same job."""


def aggregate_ticks(
    key: np.ndarray, ts: np.ndarray, price: np.ndarray, qty: np.ndarray
) -> dict[str, np.ndarray]:
    """OHLCV per bucket ``key``; ticks in time order, ties in arrival order."""
    if key.shape[0] >= POLARS_MIN_TICKS:
        return _aggregate_polars(key, ts, price, qty)
    return _aggregate_numpy(key, ts, price, qty)


def _aggregate_polars(
    key: np.ndarray, ts: np.ndarray, price: np.ndarray, qty: np.ndarray
) -> dict[str, np.ndarray]:
    ticks = pl.DataFrame({"key": key, "ts": ts, "price": price, "qty": qty})
    price_col = pl.col("price")
    frame = ticks.group_by("key").agg(
        price_col.first().alias("open"),
        price_col.max().alias("high"),
        price_col.min().alias("low"),
        price_col.last().alias("close"),
        pl.col("qty").sum().alias("volume"),
        pl.len().alias("trades"),
        pl.col("ts").first().alias("first_ts"),
        pl.col("ts").last().alias("last_ts"),
    )
    return {name: frame[name].to_numpy() for name in frame.columns}


def _aggregate_numpy(
    key: np.ndarray, ts: np.ndarray, price: np.ndarray, qty: np.ndarray
) -> dict[str, np.ndarray]:
    n = key.shape[0]
    order = np.argsort(key, kind="stable")  # stable: time order is kept inside a bucket
    k, p, t = key[order], price[order], ts[order]
    head = np.empty(n, dtype=bool)
    head[0] = True
    np.not_equal(k[1:], k[:-1], out=head[1:])
    heads = np.flatnonzero(head)
    tails = np.append(heads[1:], n) - 1
    return {
        "key": k[heads],
        "open": p[heads],
        "high": np.maximum.reduceat(p, heads),
        "low": np.minimum.reduceat(p, heads),
        "close": p[tails],
        "volume": np.add.reduceat(qty[order], heads),
        "trades": np.diff(np.append(heads, n)),
        "first_ts": t[heads],
        "last_ts": t[tails],
    }


def bucket_key(sid: np.ndarray, tf: np.ndarray | int, start: np.ndarray) -> np.ndarray:
    """One int64 per (symbol, timeframe, bucket): buckets are at least a minute apart."""
    series = sid.astype(np.int64) * 8 + tf
    key: np.ndarray = (series << 32) | (start // MINUTE_NS)
    return key


def sid_of_key(key: np.ndarray) -> np.ndarray:
    """The symbol ids inside ``bucket_key`` values."""
    return (key >> 35).astype(np.int32)


def merge(parts: list[Candles]) -> Candles:
    """Merge rows of the same bucket; ``parts`` are given in arrival order."""
    rows = Candles.concat(parts)
    n = len(rows)
    if n < 2:
        return rows
    key = bucket_key(rows.sid, rows.tf, rows.start)
    # Stable sorts: among equal tick times the earlier row (earlier arrival) comes first,
    # so the first row by first_ts has the open and the last row by last_ts has the close.
    by_first = np.lexsort((rows.first_ts, key))
    k = key[by_first]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(k[1:], k[:-1], out=new[1:])
    if new.all():
        return rows
    heads = np.flatnonzero(new)
    tails = np.append(heads[1:], n) - 1
    by_last = np.lexsort((rows.last_ts, key))
    first_rows = by_first[heads]
    last_rows = by_last[tails]
    return Candles(
        sid=rows.sid[first_rows],
        tf=rows.tf[first_rows],
        start=rows.start[first_rows],
        end=rows.end[first_rows],
        s_open=rows.s_open[first_rows],
        s_close=rows.s_close[first_rows],
        open=rows.open[first_rows],
        high=np.maximum.reduceat(rows.high[by_first], heads),
        low=np.minimum.reduceat(rows.low[by_first], heads),
        close=rows.close[last_rows],
        volume=np.add.reduceat(rows.volume[by_first], heads),
        trades=np.add.reduceat(rows.trades[by_first], heads),
        first_ts=rows.first_ts[first_rows],
        last_ts=rows.last_ts[last_rows],
    )


def absorb(state: Candles, incoming: Candles) -> Candles:
    """Merge ``incoming`` into ``state``; both hold one row per bucket, ``state`` sorted by key.

    ``incoming`` arrived later, so on equal tick times its close wins and its open
    loses. Rows of ``state`` that match are updated in place (the engine owns them);
    new buckets are inserted. Cost grows with ``incoming``, not with ``state``.
    """
    if len(incoming) == 0:
        return state
    new_key = bucket_key(incoming.sid, incoming.tf, incoming.start)
    if len(state) == 0:
        return incoming.take(np.argsort(new_key, kind="stable"))
    key = bucket_key(state.sid, state.tf, state.start)
    pos = np.minimum(np.searchsorted(key, new_key), len(state) - 1)
    hit = key[pos] == new_key
    if hit.any():
        i, src = pos[hit], incoming.take(hit)
        earlier = src.first_ts < state.first_ts[i]
        state.open[i] = np.where(earlier, src.open, state.open[i])
        state.first_ts[i] = np.where(earlier, src.first_ts, state.first_ts[i])
        later = src.last_ts >= state.last_ts[i]
        state.close[i] = np.where(later, src.close, state.close[i])
        state.last_ts[i] = np.where(later, src.last_ts, state.last_ts[i])
        state.high[i] = np.maximum(state.high[i], src.high)
        state.low[i] = np.minimum(state.low[i], src.low)
        state.volume[i] += src.volume
        state.trades[i] += src.trades
        if hit.all():
            return state
        incoming, new_key = incoming.take(~hit), new_key[~hit]
    rows = Candles.concat([state, incoming])
    order = np.argsort(np.concatenate([key, new_key]), kind="stable")
    return rows.take(order)


def rollup(one_minute: Candles, codes: tuple[int, ...] = ROLLUP_CODES) -> Candles:
    """1m candles re-keyed to the buckets of the higher timeframes ``codes`` (not yet merged)."""
    if len(one_minute) == 0:
        return one_minute
    parts = []
    for code in codes:
        width = WIDTH_NS[TIMEFRAMES[code]]
        if width is None:
            start, end = one_minute.s_open, one_minute.s_close
        else:
            offset = one_minute.start - one_minute.s_open
            start = one_minute.s_open + (offset // width) * width
            end = np.minimum(start + width, one_minute.s_close)
        parts.append(one_minute.with_bucket(code, start, end))
    return Candles.concat(parts)


def split_closed(rows: Candles, horizon: np.ndarray, grace: int) -> tuple[Candles, Candles]:
    """(closed, still open): a row closes once its end + grace <= its symbol's horizon."""
    if len(rows) == 0:
        return rows, rows
    mask = rows.end + grace <= horizon[rows.sid]
    if not mask.any():
        return Candles.empty(), rows
    if mask.all():
        return rows, Candles.empty()
    return rows.take(mask), rows.take(~mask)


def latest_per_symbol(rows: Candles) -> Candles:
    """The most recent bucket of each symbol (rows of one timeframe)."""
    if len(rows) < 2:
        return rows
    order = np.lexsort((rows.start, rows.sid))
    s = rows.sid[order]
    last = np.empty(len(rows), dtype=bool)
    last[-1] = True
    last[:-1] = s[1:] != s[:-1]
    return rows.take(order[last])
