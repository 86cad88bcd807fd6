"""The last N closed candles per (symbol, timeframe), columnar, appended a batch at a time.

One array of 64-byte records shaped (timeframes, N, symbols) holds a ring per
(symbol, timeframe). Appending a burst of closed candles is a few vectorised
writes, and since symbols close in step, a burst lands in a few contiguous rows
(few pages touched). 1000 symbols x 5 timeframes x 300 candles is under 100 MB
when every ring is full; rows never written are never touched.
"""

from __future__ import annotations

import mmap
from collections.abc import Mapping

import numpy as np
import polars as pl

from market_data_engine.candles._candles import Candles
from market_data_engine.candles._messages import candle_messages
from market_data_engine.candles.buckets import TF_CODE, TIMEFRAMES
from shared.contracts import CandleMsg, Timeframe

RECORD = np.dtype(
    [
        ("start", np.int64),
        ("end", np.int64),
        ("open", np.float64),
        ("high", np.float64),
        ("low", np.float64),
        ("close", np.float64),
        ("volume", np.float64),
        ("trades", np.int64),
    ]
)
"""Fields of ``window``'s structured array; start and end are UTC epoch nanoseconds."""
_FIELDS = ("start", "end", "open", "high", "low", "close", "volume", "trades")


class CandleCache:
    """Recent closed candles of one engine's symbols (``ids`` maps symbol -> engine id)."""

    def __init__(self, ids: Mapping[str, int], maxlen: int = 300) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self.maxlen = maxlen
        self._ids = ids
        # _ring[tf, i, sid] is slot i of the ring of (sid, tf); _count[tf, sid] candles so far.
        self._ring = _zeros((len(TIMEFRAMES), maxlen, 0))
        self._count = np.zeros((len(TIMEFRAMES), 0), dtype=np.int64)

    def append(self, rows: Candles) -> None:
        """Add closed candles; rows of one (symbol, timeframe) must come in time order."""
        if len(rows) == 0:
            return
        self._reserve(int(rows.sid.max()) + 1)
        symbols = self._count.shape[1]
        series = rows.tf.astype(np.int64) * symbols + rows.sid  # flat index into _count
        order = np.argsort(series, kind="stable")  # keeps time order within a series
        s = series[order]
        n = s.shape[0]
        head = np.empty(n, dtype=bool)
        head[0] = True
        np.not_equal(s[1:], s[:-1], out=head[1:])
        heads = np.flatnonzero(head)
        run = np.cumsum(head) - 1
        rank = np.arange(n) - heads[run]
        sizes = np.diff(np.append(heads, n))
        keep = rank >= sizes[run] - self.maxlen  # more than N at once: only the last N matter
        count = self._count.reshape(-1)
        pos = (count[s] + rank) % self.maxlen
        src = order[keep]
        # One gather into a record per candle, then one scatter of whole records into the
        # flat ring: a write of 64 contiguous bytes per candle instead of one per field.
        records = np.empty(src.shape[0], dtype=RECORD)
        for field in _FIELDS:
            records[field] = getattr(rows, field)[src]
        slots = self._ring.shape[1] * self._ring.shape[2]
        at = rows.tf[src].astype(np.int64) * slots + pos[keep] * self._ring.shape[2] + rows.sid[src]
        self._ring.reshape(-1)[at] = records
        count[s[heads]] += sizes

    def _reserve(self, symbols: int) -> None:
        have = self._count.shape[1]
        if symbols <= have:
            return
        size = max(symbols, 2 * have, 64)
        ring = _zeros((len(TIMEFRAMES), self.maxlen, size))
        ring[:, :, :have] = self._ring
        count = np.zeros((len(TIMEFRAMES), size), dtype=np.int64)
        count[:, :have] = self._count
        self._ring, self._count = ring, count

    def window(self, symbol: str, timeframe: Timeframe, n: int) -> np.ndarray:
        """The last ``n`` candles, oldest first, as a structured array (fields of ``RECORD``)."""
        sid = self._ids.get(symbol)
        if sid is None or sid >= self._count.shape[1] or n <= 0:
            return np.empty(0, dtype=RECORD)
        code = TF_CODE[Timeframe(timeframe)]
        count = int(self._count[code, sid])
        k = min(n, count, self.maxlen)
        rows: np.ndarray = self._ring[code, np.arange(count - k, count) % self.maxlen, sid]
        return rows

    def frame(self, symbol: str, timeframe: Timeframe, n: int) -> pl.DataFrame:
        """The last ``n`` candles, oldest first, as a frame with UTC datetime start/end."""
        w = self.window(symbol, timeframe, n)
        return pl.DataFrame({name: w[name] for name in _FIELDS}).with_columns(
            pl.col("start", "end").cast(pl.Datetime("ns", "UTC"))
        )

    def recent(self, symbol: str, timeframe: Timeframe, n: int) -> list[CandleMsg]:
        """The last ``n`` candles, oldest first, as messages."""
        w = self.window(symbol, timeframe, n)
        k = w.shape[0]
        return candle_messages(
            [symbol], np.zeros(k, dtype=np.int64),
            np.full(k, TF_CODE[Timeframe(timeframe)]), w["start"], w["end"],
            w["open"], w["high"], w["low"], w["close"], w["volume"], w["trades"],
        )  # fmt: skip


def _zeros(shape: tuple[int, int, int]) -> np.ndarray:
    """A zeroed ``RECORD`` array in anonymous memory that is never backed by huge pages.

    numpy asks the kernel for transparent huge pages on big arrays; the first write to
    each 2 MB page then zeroes (and may first compact) 2 MB, several milliseconds that
    would land inside a candle-close burst. With 4 KB pages a burst's first writes to
    fresh ring rows cost microseconds.
    """
    size = int(np.prod(shape)) * RECORD.itemsize
    if size == 0:
        return np.zeros(shape, dtype=RECORD)
    memory = mmap.mmap(-1, size)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        memory.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(memory, dtype=RECORD).reshape(shape)
