"""Raw tick rows in bulk -> ``TickBatch``: a CSV chunk or newline-delimited JSON, parsed by Polars.

Rows are ``symbol, ts, price, qty`` with ``ts`` in integer UTC epoch nanoseconds
(CSV without a header; JSON objects with those keys). Parsing a whole chunk in
Polars costs a fraction of decoding row by row in Python. Rows with a missing
or unparsable field are dropped and counted, never raised: one bad row must not
stop a feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson
import polars as pl

from market_data_engine.ticks import TickBatch

TICK_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "ts": pl.Int64(),
    "price": pl.Float64(),
    "qty": pl.Float64(),
}


@dataclass(frozen=True, slots=True)
class Decoded:
    """The ticks decoded from a chunk, and how many rows were malformed."""

    batch: TickBatch
    malformed: int


def decode_csv(chunk: bytes) -> Decoded:
    """Headerless CSV rows ``symbol,ts_ns,price,qty``."""
    if not chunk.strip():
        return Decoded(TickBatch.empty(), 0)
    frame = pl.read_csv(
        chunk,
        has_header=False,
        schema=TICK_SCHEMA,
        ignore_errors=True,
        truncate_ragged_lines=True,
    )
    return _to_batch(frame)


def decode_ndjson(chunk: bytes | Sequence[bytes]) -> Decoded:
    """JSON objects ``{"symbol", "ts", "price", "qty"}``, one per line (or one per item)."""
    data = chunk if isinstance(chunk, bytes) else b"\n".join(chunk)
    if not data.strip():
        return Decoded(TickBatch.empty(), 0)
    try:
        frame = pl.read_ndjson(data, schema=TICK_SCHEMA, ignore_errors=True)
    except pl.exceptions.ComputeError:
        return _decode_lines(data.splitlines())  # a line that is not JSON at all
    return _to_batch(frame)


def _decode_lines(lines: list[bytes]) -> Decoded:
    rows, bad = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            bad += 1
            continue
        if isinstance(row, dict):
            rows.append({k: row.get(k) for k in TICK_SCHEMA})
        else:
            bad += 1
    frame = pl.DataFrame(rows, schema=TICK_SCHEMA, strict=False)
    decoded = _to_batch(frame)
    return Decoded(decoded.batch, decoded.malformed + bad)


def _to_batch(frame: pl.DataFrame) -> Decoded:
    complete = frame.drop_nulls() if any(frame.null_count().row(0)) else frame
    return Decoded(
        TickBatch(
            complete["symbol"].to_numpy(),
            complete["ts"].to_numpy().astype(np.int64, copy=False),
            complete["price"].to_numpy().astype(np.float64, copy=False),
            complete["qty"].to_numpy().astype(np.float64, copy=False),
        ),
        frame.height - complete.height,
    )
