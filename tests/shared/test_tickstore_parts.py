"""Tick store internals: the bounded buffer and line protocol helpers."""

from __future__ import annotations

import numpy as np
import pytest

from shared.tickstore import InfluxTickStore, TickColumns, create_tickstore
from shared.tickstore._buffer import TickBuffer
from shared.tickstore._lineproto import TimestampSpreader, encode_ticks, escape_tag, quote_literal


def cols(ts: list[int], symbols: list[str] | None = None) -> TickColumns:
    syms = np.array(symbols or ["AAA"] * len(ts), dtype=object)
    arr = np.array(ts, dtype=np.int64)
    return TickColumns(syms, arr, arr.astype(np.float64), np.ones(len(ts)))


def test_full_buffer_drops_the_oldest_ticks_and_counts_them() -> None:
    buf = TickBuffer(max_ticks=5)

    buf.append(cols([1, 2, 3]))
    buf.append(cols([4, 5, 6, 7]))

    batch, _ = buf.take(10) or (None, None)
    assert batch is not None and list(batch.ts_ns) == [3, 4, 5, 6, 7]
    assert buf.shed == 2


def test_failed_batch_goes_back_first_in_line() -> None:
    buf = TickBuffer(max_ticks=100)
    buf.append(cols([1, 2]))
    first, _ = buf.take(2) or (None, None)
    buf.append(cols([3]))

    assert first is not None
    buf.put_back(first)
    again = buf.take(10)

    assert again is not None and list(again[0].ts_ns) == [1, 2] and again[1] is True
    assert buf.size == 3


def test_batch_in_flight_counts_against_the_bound() -> None:
    buf = TickBuffer(max_ticks=4)
    buf.append(cols([1, 2, 3]))
    buf.take(3)

    buf.append(cols([4, 5]))

    assert buf.size == 4 and buf.shed == 1


def test_spreader_moves_tied_ticks_of_a_symbol_apart_across_batches() -> None:
    spreader = TimestampSpreader()

    a = spreader.apply(cols([10, 10, 10], ["AAA", "BBB", "AAA"]))
    b = spreader.apply(cols([10, 11], ["AAA", "AAA"]))

    assert list(a.ts_ns) == [10, 10, 11]
    assert list(b.ts_ns) == [12, 11]


def test_spreader_leaves_increasing_timestamps_alone() -> None:
    batch = cols([1, 2, 3])

    assert TimestampSpreader().apply(batch) is batch


def test_line_protocol_escapes_tags_and_keeps_full_float_precision() -> None:
    batch = TickColumns(
        np.array(["NIFTY 50"], dtype=object),
        np.array([1_700_000_000_000_000_123], dtype=np.int64),
        np.array([0.1 + 0.2]),
        np.array([7.0]),
    )

    line = encode_ticks(batch).decode()

    assert line == "ticks,symbol=NIFTY\\ 50 price=0.30000000000000004,qty=7.0 1700000000000000123"


def test_tag_and_literal_quoting() -> None:
    assert escape_tag("A,B=C D") == "A\\,B\\=C\\ D"
    assert quote_literal("O'NEIL\\") == "'O\\'NEIL\\\\'"


def test_unknown_store_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tick store kind"):
        create_tickstore("parquet")


def test_factory_passes_options_to_the_influx_adapter() -> None:
    store = create_tickstore("influx", url="http://127.0.0.1:1", database="x", batch_size=7)

    assert isinstance(store, InfluxTickStore) and store.batch_size == 7
