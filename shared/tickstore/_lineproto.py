"""InfluxDB line protocol and InfluxQL text, built column-wise.

A tick batch becomes one ``bytes`` body through a single Polars expression
(~2M lines/s), not per-field Python formatting.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from shared.contracts import CandleMsg
from shared.tickstore.base import TickColumns, to_ns

TICKS = "ticks"
CANDLES = "candles"
_TAG_SPECIALS = (",", "=", " ")


def escape_tag(value: str) -> str:
    """Escape a tag value for line protocol (commas, equals signs and spaces)."""
    if not any(ch in value for ch in _TAG_SPECIALS):
        return value
    return value.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def quote_literal(value: str) -> str:
    """An InfluxQL single-quoted string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_ident(value: str) -> str:
    """An InfluxQL double-quoted identifier."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_ticks(cols: TickColumns, measurement: str = TICKS) -> bytes:
    """``ticks,symbol=S price=P,qty=Q TS`` lines, newline-joined, for precision=ns."""
    if len(cols) == 0:
        return b""
    symbols = pl.Series("s", cols.symbol, dtype=pl.String)
    if bool(symbols.str.contains(r"[ ,=]").any()):
        for ch in _TAG_SPECIALS:
            symbols = symbols.str.replace_all(ch, "\\" + ch, literal=True)
    frame = pl.DataFrame({"s": symbols, "t": cols.ts_ns, "p": cols.price, "q": cols.qty})
    line = pl.concat_str(
        pl.lit(f"{measurement},symbol="),
        pl.col("s"),
        pl.lit(" price="),
        pl.col("p").cast(pl.String),
        pl.lit(",qty="),
        pl.col("q").cast(pl.String),
        pl.lit(" "),
        pl.col("t").cast(pl.String),
    )
    body = frame.select(line.str.join("\n")).item()
    return str(body).encode()


def encode_candles(candles: Sequence[CandleMsg], measurement: str = CANDLES) -> bytes:
    """One line per candle, keyed by (symbol, timeframe, start): a rewrite replaces it."""
    lines = [
        f"{measurement},symbol={escape_tag(c.symbol)},timeframe={c.timeframe.value} "
        f"o={c.open!r},h={c.high!r},l={c.low!r},c={c.close!r},v={c.volume!r},"
        f"trades={int(c.trades)}i,end_ns={to_ns(c.end)}i {to_ns(c.start)}"
        for c in candles
    ]
    return "\n".join(lines).encode()


class TimestampSpreader:
    """Keeps ticks of one symbol sharing a timestamp from overwriting each other.

    InfluxDB identifies a point by (measurement, tags, time), so a second tick of
    a symbol at the same nanosecond would replace the first. Feeds with
    millisecond timestamps produce such ties; each extra tick of a tie moves
    1 ns later, including across batches (the last timestamp written is carried).
    """

    def __init__(self) -> None:
        self._last_ts: int | None = None
        self._at_last: dict[str, int] = {}  # symbol -> ticks already written at _last_ts

    def apply(self, cols: TickColumns) -> TickColumns:
        """Columns with tied timestamps spread apart (the input is not modified)."""
        ts = cols.ts_ns
        n = len(ts)
        if n == 0:
            return cols
        increasing = n == 1 or bool(np.all(ts[1:] > ts[:-1]))
        if increasing and (self._last_ts is None or int(ts[0]) > self._last_ts):
            self._last_ts = int(ts[-1])
            self._at_last = {str(cols.symbol[-1]): 1}
            return cols
        new_ts = ts + self._offsets(cols)
        self._carry(cols)
        return TickColumns(cols.symbol, new_ts, cols.price, cols.qty)

    def _offsets(self, cols: TickColumns) -> npt.NDArray[np.int64]:
        frame = pl.DataFrame({"s": pl.Series(cols.symbol, dtype=pl.String), "t": cols.ts_ns})
        rank = frame.select(pl.int_range(pl.len(), dtype=pl.Int64).over("s", "t")).to_series()
        offsets = rank.to_numpy().astype(np.int64, copy=True)
        if self._last_ts is not None and self._at_last:
            tied = np.flatnonzero(cols.ts_ns == self._last_ts)
            for i in tied.tolist():
                offsets[i] += self._at_last.get(str(cols.symbol[i]), 0)
        return offsets

    def _carry(self, cols: TickColumns) -> None:
        top = int(cols.ts_ns.max())
        if self._last_ts is not None and top < self._last_ts:
            return
        if self._last_ts is None or top > self._last_ts:
            self._last_ts = top
            self._at_last = {}
        for i in np.flatnonzero(cols.ts_ns == top).tolist():
            sym = str(cols.symbol[i])
            self._at_last[sym] = self._at_last.get(sym, 0) + 1
