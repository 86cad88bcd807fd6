"""Bulk decoding of raw tick rows into tick batches."""

from __future__ import annotations

from market_data_engine.candles.wire import decode_csv, decode_ndjson


def test_csv_chunk_decodes_to_columns() -> None:
    decoded = decode_csv(b"INFY,1718000000000000000,1500.05,10\nTCS,1718000000000000001,3900.5,0\n")

    assert decoded.batch.symbol.tolist() == ["INFY", "TCS"]
    assert decoded.batch.ts_ns.tolist() == [1718000000000000000, 1718000000000000001]
    assert decoded.batch.price.tolist() == [1500.05, 3900.5]
    assert decoded.batch.qty.tolist() == [10.0, 0.0]
    assert decoded.malformed == 0


def test_csv_rows_with_missing_or_bad_fields_are_counted_not_raised() -> None:
    decoded = decode_csv(b"INFY,1,1.5,2\nTCS,notatime,1.5,2\nSBIN,3,1.5\n")

    assert decoded.batch.symbol.tolist() == ["INFY"]
    assert decoded.malformed == 2


def test_ndjson_rows_decode_from_a_list_of_frames() -> None:
    rows = [
        b'{"symbol":"INFY","ts":1718000000000000000,"price":1500.05,"qty":10}',
        b'{"symbol":"TCS","ts":1718000000000000001,"price":3900.5,"qty":1}',
    ]

    decoded = decode_ndjson(rows)

    assert decoded.batch.symbol.tolist() == ["INFY", "TCS"]
    assert decoded.batch.price.tolist() == [1500.05, 3900.5]


def test_ndjson_line_that_is_not_json_is_counted_and_the_rest_kept() -> None:
    chunk = b'{"symbol":"INFY","ts":1,"price":1.5,"qty":2}\nnot json\n{"symbol":"TCS","ts":2}\n'

    decoded = decode_ndjson(chunk)

    assert decoded.batch.symbol.tolist() == ["INFY"]
    assert decoded.malformed == 2


def test_empty_chunk_gives_an_empty_batch() -> None:
    assert len(decode_csv(b"").batch) == 0
    assert len(decode_ndjson(b"\n").batch) == 0
