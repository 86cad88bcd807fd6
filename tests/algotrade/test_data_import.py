"""``algotrade data import``: 1m candles from CSV or Parquet, checked in full, stored once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from algotrade.cli import app
from algotrade.context import CliContext
from shared.calendar import IST
from shared.contracts import Timeframe
from shared.tickstore import LocalTickStore
from tests.api_gateway.conftest import settings_for

OPEN = datetime(2025, 12, 5, 9, 15, tzinfo=IST)  # a Friday session
HEADER = "timestamp,open,high,low,close,volume"


def _rows(n: int = 30) -> list[str]:
    out = []
    for i in range(n):
        ts = (OPEN + timedelta(minutes=i)).isoformat()
        price = 1500 + i
        out.append(f"{ts},{price},{price + 2},{price - 1},{price + 1},{100 + i}")
    return out


def _csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def context(request, tmp_path) -> CliContext:
    return CliContext.from_settings(settings_for("sqlite", request, tmp_path))


def _import(context: CliContext, path: Path, *extra: str):
    args = ["data", "import", str(path), "--symbol", "reliance", *extra]
    return CliRunner().invoke(app, args, obj=context)


def _stored(context: CliContext, timeframe: Timeframe):
    store = LocalTickStore(context.settings.data_dir / "ticks", max_candles_per_series=50_000)
    return asyncio.run(store.query_candles("RELIANCE", timeframe))


def test_import_stores_the_minutes_and_their_roll_ups(context, tmp_path):
    path = _csv(tmp_path / "reliance.csv", _rows(30))

    result = _import(context, path)

    assert result.exit_code == 0, result.output
    assert "imported 30 1m candles of RELIANCE" in result.output
    minutes = _stored(context, Timeframe.M1)
    assert len(minutes) == 30 and minutes[0].start == OPEN and minutes[-1].close == 1530
    five = _stored(context, Timeframe.M5)
    assert len(five) == 6 and (five[0].open, five[0].high, five[0].close) == (1500, 1506, 1505)
    [day] = _stored(context, Timeframe.D1)
    assert day.start == OPEN and day.volume == sum(100 + i for i in range(30))


def test_importing_the_same_file_again_changes_nothing(context, tmp_path):
    path = _csv(tmp_path / "reliance.csv", _rows(30))
    assert _import(context, path).exit_code == 0
    before = [_stored(context, tf) for tf in Timeframe]

    again = _import(context, path)

    assert again.exit_code == 0, again.output
    assert [_stored(context, tf) for tf in Timeframe] == before


def test_parquet_with_aware_datetimes_is_imported(context, tmp_path):
    path = tmp_path / "reliance.parquet"
    pl.DataFrame(
        {
            "Timestamp": [OPEN + timedelta(minutes=i) for i in range(3)],
            "Open": [1500.0, 1501.0, 1502.0],
            "High": [1502.0, 1503.0, 1504.0],
            "Low": [1499.0, 1500.0, 1501.0],
            "Close": [1501.0, 1502.0, 1503.0],
            "Volume": [10, 20, 30],
        }
    ).write_parquet(path)

    result = _import(context, path, "--json")

    assert result.exit_code == 0, result.output
    assert [c.close for c in _stored(context, Timeframe.M1)] == [1501, 1502, 1503]


@pytest.mark.parametrize(
    ("change", "where", "why"),
    [
        (
            lambda r: [*r[:3], "2025-12-05T09:18:00,1,2,1,1,5", *r[4:]],
            ":5: column 'timestamp'",
            "UTC offset",
        ),
        (lambda r: [*r[:2], r[2].replace(",102", ",lots")], ":4: column 'volume'", "not a number"),
        (lambda r: [*r[:6], r[6].replace(",1508,", ",1490,", 1)], ":8: column 'high'", "below"),
        (lambda r: [*r[:9], r[8], *r[10:]], ":11: column 'timestamp'", "does not come after"),
        (lambda r: ["2025-12-06T09:15:00+05:30,1,2,1,1,5"], ":2: column 'timestamp'", "session"),
        (lambda r: ["2025-12-05T09:15:30+05:30,1,2,1,1,5"], ":2: column 'timestamp'", "minute"),
        (lambda r: ["2999-12-05T09:15:00+05:30,1,2,1,1,5"], ":2: column 'timestamp'", "not closed"),
    ],
    ids=[
        "naive-time",
        "bad-number",
        "high-below-close",
        "duplicate",
        "weekend",
        "seconds",
        "future",
    ],
)
def test_a_malformed_file_names_the_line_and_column_and_stores_nothing(
    context, tmp_path, change, where, why
):
    path = _csv(tmp_path / "bad.csv", change(_rows(30)))

    result = _import(context, path)

    assert result.exit_code == 2
    assert f"bad.csv{where}" in result.output and why in result.output, result.output
    assert _stored(context, Timeframe.M1) == []


def test_a_missing_column_is_named_on_the_header_line(context, tmp_path):
    rows = [r.rsplit(",", 1)[0] for r in _rows(2)]
    path = _csv(tmp_path / "bad.csv", rows, header="timestamp,open,high,low,close")

    result = _import(context, path)

    assert result.exit_code == 2 and "bad.csv:1: column 'volume': missing" in result.output


def test_a_row_with_a_field_too_many_is_named_by_its_line(context, tmp_path):
    rows = _rows(5)
    rows[2] += ",7"
    path = _csv(tmp_path / "bad.csv", rows)

    result = _import(context, path)

    assert result.exit_code == 2 and "bad.csv:4: 7 fields where the header names 6" in result.output


def test_an_unknown_symbol_is_refused(context, tmp_path):
    path = _csv(tmp_path / "x.csv", _rows(2))

    result = CliRunner().invoke(app, ["data", "import", str(path), "--symbol", "NOPE"], obj=context)

    assert result.exit_code != 0 and "unknown instrument 'NOPE'" in result.output


def test_imported_history_backtests_from_the_store_replaying_its_minutes(context, tmp_path):
    import json
    import math

    rows = []
    for i in range(300):
        ts = (OPEN + timedelta(minutes=i)).isoformat()
        price = round(1500 + 30 * math.sin(i / 12), 2)
        rows.append(f"{ts},{price},{price + 4},{price - 4},{price + 0.5},100")
    assert _import(context, _csv(tmp_path / "reliance.csv", rows)).exit_code == 0
    out = tmp_path / "r.json"

    result = CliRunner().invoke(
        app,
        [
            "backtest", "ma_crossover", "--symbol", "RELIANCE", "--timeframe", "5m",
            "--from", "2025-12-05", "--to", "2025-12-06", "--param", "fast=2",
            "--param", "slow=5", "--quantity", "1", "--stops", "--json", str(out),
        ],
        obj=context,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["run_card"]["bars"] == 60
    assert report["conventions"]["intrabar_candles"] == "1m"
    assert report["trades"]
