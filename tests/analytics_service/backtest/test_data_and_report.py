"""Reading candles from files (every problem named by line and column), and the report."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from analytics_service.backtest import BadData, build_report, load_bars, market_for, run_backtest
from analytics_service.backtest.engine import build_strategy
from analytics_service.backtest.html import render_html
from analytics_service.backtest.lookahead import check_lookahead
from analytics_service.backtest.sweep import parse_values, run_sweep
from bench.backtest import synthetic_bars
from shared.contracts import Timeframe
from shared.errors import DomainError
from strategy_workers.strategies.registry import registry
from tests.analytics_service.backtest.factories import request

HEADER = "timestamp,open,high,low,close,volume\n"
ROW = "2024-01-01T00:0{m}:00Z,10,11,9,10.5,100\n"


def write(tmp_path, text, name="bars.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def load(path):
    return load_bars(path, "SYNTH", Timeframe.M1)


def test_csv_with_offsets_reads_as_utc(tmp_path):
    path = write(
        tmp_path, HEADER + "2024-01-01T05:30:00+05:30,10,11,9,10.5,100\n" + ROW.format(m=1)
    )

    got = load(path)

    assert got.time(0).isoformat() == "2024-01-01T00:00:00+00:00"
    assert len(got) == 2


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("timestamp,open,high,low,close\n2024-01-01T00:00:00Z,10,11,9,10.5\n", 1, "volume"),
        (HEADER + ROW.format(m=1) + ROW.format(m=0), 3, "timestamp"),
        (HEADER + ROW.format(m=0) + ROW.format(m=0), 3, "timestamp"),
        (HEADER + "2024-01-01T00:00:00Z,0,11,9,10.5,100\n", 2, "open"),
        (HEADER + "2024-01-01T00:00:00Z,10,11,9,x,100\n", 2, "close"),
        (HEADER + "soon,10,11,9,10.5,100\n", 2, "timestamp"),
        (HEADER + "2024-01-01T00:00:00Z,10,9,9.5,10,100\n", 2, "open"),
    ],
    ids=[
        "missing column",
        "unsorted",
        "duplicate",
        "zero price",
        "not a number",
        "bad time",
        "open above high",
    ],
)
def test_bad_files_name_line_and_column(tmp_path, text, line, column):
    with pytest.raises(BadData) as raised:
        load(write(tmp_path, text))

    assert (raised.value.line, raised.value.column) == (line, column)
    assert raised.value.status_code == 422


def test_empty_file_is_refused(tmp_path):
    with pytest.raises(BadData, match="no candles"):
        load(write(tmp_path, HEADER))


def test_gaps_inside_a_day_are_counted_not_refused(tmp_path):
    got = load(write(tmp_path, HEADER + ROW.format(m=0) + ROW.format(m=1) + ROW.format(m=5)))

    assert got.gap_count == 1
    assert got.gaps[0].missing_bars == 3


def test_parquet_reads_like_csv(tmp_path):
    csv = write(tmp_path, HEADER + ROW.format(m=0) + ROW.format(m=1))
    parquet = tmp_path / "bars.parquet"
    pl.read_csv(csv).write_parquet(parquet)

    assert load(parquet).data_hash() == load(csv).data_hash()


def _run(n=3_000):
    data = synthetic_bars(n)
    req = request({"fast": 5, "slow": 20})
    instrument, fees = market_for("SYNTH")
    return run_backtest(req, data, instrument, fees)


def test_report_has_the_json_shape_with_conventions_and_run_card():
    result = _run()

    report = json.loads(json.dumps(build_report(result, version="abc")))

    trade = report["trades"][0]
    for key in (
        "symbol",
        "side",
        "quantity",
        "entry_time",
        "entry_price",
        "exit_time",
        "exit_price",
        "pnl",
        "charges",
        "mae",
        "mfe",
        "exit_reason",
        "holding_seconds",
    ):
        assert key in trade
    assert trade["entry_time"].endswith("Z")
    assert report["equity"][0] == {"time": "2024-01-01T00:00:00Z", "equity": 100000.0}
    assert report["conventions"]["fill_at"] == "next_open"
    card = report["run_card"]
    assert card["data_hash"] == result.bars.data_hash()
    assert card["code_version"] == "abc"
    assert card["params"]["fast"] == 5 and card["params"]["slow"] == 20
    assert card["params"]["ma_type"] == "sma"  # the validated parameters, defaults included
    assert report["metrics"]["trades"]["count"] == sum(
        1 for t in result.trades if t.exit_time is not None
    )
    assert Decimal(report["metrics"]["final_equity"]) == result.final_equity


def test_html_report_is_self_contained():
    result = _run()

    page = render_html(result, build_report(result, version="abc"))

    assert page.startswith("<!doctype html>")
    assert page.count("<svg") == 3
    assert "<script" not in page and "http" not in page


def test_lookahead_check_finds_nothing_in_a_strategy_that_only_sees_the_past():
    result = _run()
    strategy = build_strategy(result.request, registry)

    assert check_lookahead(result, strategy) == []


def test_lookahead_check_reports_a_scan_that_reads_the_future():
    result = _run()
    strategy = build_strategy(result.request, registry)
    honest = strategy.scan

    def peeking(history):  # keeps a bar only if the next bar closes higher
        found = honest(history)
        close = history.close
        return np.array([i for i in found if i + 1 < len(close) and close[i + 1] > close[i]])

    strategy.scan = peeking  # type: ignore[method-assign]

    assert check_lookahead(result, strategy)


def test_sweep_runs_the_grid_ranked_and_counts_refused_points():
    data = synthetic_bars(2_000)
    grid = {"fast": parse_values("5:15:5"), "slow": parse_values("10,20")}

    ranked, refused = run_sweep(request({"fast": 5, "slow": 20}), data, grid, rank_by="net_pnl")

    assert refused == 2  # slow must exceed fast: (10, 10), (15, 10)
    assert len(ranked) == 4
    pnl = [p.summary["net_pnl"] for p in ranked]
    assert pnl == sorted(pnl, reverse=True)


def test_sweep_refuses_an_unknown_metric_and_a_grid_too_large():
    data = synthetic_bars(500)
    with pytest.raises(DomainError, match="unknown metric"):
        run_sweep(request(), data, {"fast": [2]}, rank_by="luck")
    with pytest.raises(DomainError, match="at most"):
        run_sweep(request(), data, {"slow": [3, 4, 5]}, max_points=2)


@pytest.mark.parametrize("zone", [None, "Asia/Kolkata"])
def test_parquet_with_datetime_timestamps_reads_as_utc(tmp_path, zone):
    from datetime import datetime

    stamps = pl.Series([datetime(2024, 1, 1, 9, 15), datetime(2024, 1, 1, 9, 16)])
    stamps = stamps.dt.replace_time_zone(zone) if zone else stamps
    path = tmp_path / "bars.parquet"
    pl.DataFrame(
        {"timestamp": stamps, "open": [10.0, 10.0], "high": [11.0, 11.0], "low": [9.0, 9.0],
         "close": [10.5, 10.5], "volume": [1.0, 1.0]}
    ).write_parquet(path)  # fmt: skip

    got = load(path)

    expected = "2024-01-01T09:15:00+00:00" if zone is None else "2024-01-01T03:45:00+00:00"
    assert got.time(0).isoformat() == expected
