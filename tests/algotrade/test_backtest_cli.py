"""``algotrade backtest`` and ``algotrade sweep`` on files: reports written, bad input named."""

from __future__ import annotations

import json

import polars as pl
from typer.testing import CliRunner

from algotrade.cli import app
from bench.backtest import synthetic_bars


def write_csv(path, n=3_000):
    bars = synthetic_bars(n)
    stamps = pl.Series(bars.ts.astype("datetime64[ns]")).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    pl.DataFrame(
        {"timestamp": stamps, "open": bars.open, "high": bars.high, "low": bars.low,
         "close": bars.close, "volume": bars.volume}
    ).write_csv(path)  # fmt: skip
    return path


def invoke(*args):
    return CliRunner().invoke(app, list(args), prog_name="algotrade")


BASE = ("ma_crossover", "--symbol", "SYNTH", "--timeframe", "1m")


def test_backtest_writes_the_json_and_html_reports(tmp_path):
    data = write_csv(tmp_path / "bars.csv")
    out, page = tmp_path / "r.json", tmp_path / "r.html"

    result = invoke(
        "backtest", *BASE, "--data", str(data), "--param", "fast=5", "--param", "slow=20",
        "--quantity", "10", "--long-only", "--no-costs", "--fill", "close",
        "--json", str(out), "--html", str(page), "--check-lookahead",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "round trips" in result.output
    assert "look-ahead check: 0 signal(s) changed" in result.output
    report = json.loads(out.read_text())
    assert set(report) >= {"trades", "equity", "metrics", "conventions", "run_card"}
    assert report["conventions"]["fill_at"] == "close"
    assert report["conventions"]["direction"] == "long_only"
    assert all(t["side"] == "BUY" for t in report["trades"])
    assert page.read_text().startswith("<!doctype html>")


def test_backtest_names_the_line_and_column_of_bad_data(tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01T00:01:00Z,10,11,9,10,1\n2024-01-01T00:00:00Z,10,11,9,10,1\n"
    )
    out = tmp_path / "r.json"

    result = invoke("backtest", *BASE, "--data", str(data), "--json", str(out))

    assert result.exit_code == 2
    assert "line 3, column 'timestamp'" in result.output
    assert not out.exists()


def test_backtest_refuses_unknown_strategy_and_parameters_outside_the_schema(tmp_path):
    data = write_csv(tmp_path / "bars.csv", 300)

    unknown = invoke("backtest", "nope", *BASE[1:], "--data", str(data))
    outside = invoke("backtest", *BASE, "--data", str(data), "--param", "fast=1")

    assert unknown.exit_code == 2 and "no strategy named 'nope'" in unknown.output
    assert outside.exit_code == 2 and "params.fast" in outside.output


def test_backtest_needs_a_file_or_a_range(tmp_path):
    result = invoke("backtest", *BASE)

    assert result.exit_code == 2
    assert "--data FILE or --from DATE --to DATE" in result.output


def test_sweep_ranks_the_grid(tmp_path):
    data = write_csv(tmp_path / "bars.csv", 2_000)
    out = tmp_path / "s.json"

    result = invoke(
        "sweep", *BASE, "--data", str(data), "--grid", "fast=5,10", "--grid", "slow=20:30:10",
        "--quantity", "1", "--rank-by", "net_pnl", "--processes", "2", "--json", str(out),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    points = json.loads(out.read_text())["points"]
    assert len(points) == 4
    assert [p["net_pnl"] for p in points] == sorted((p["net_pnl"] for p in points), reverse=True)


def test_several_symbols_are_reported_as_one_portfolio(tmp_path):
    a, b = write_csv(tmp_path / "a.csv", 2_000), write_csv(tmp_path / "b.csv", 1_500)
    out = tmp_path / "r.json"

    result = invoke(
        "backtest", "ma_crossover", "--symbol", "AAA", "--symbol", "BBB", "--timeframe", "1m",
        "--data", str(a), "--data", str(b), "--param", "fast=5", "--param", "slow=20",
        "--quantity", "1", "--capital", "50000", "--json", str(out),
        "--html", str(tmp_path / "r.html"),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert {t["symbol"] for t in report["trades"]} == {"AAA", "BBB"}
    assert report["equity"][0]["equity"] == 100_000.0
    assert report["run_card"]["symbol"] == ["AAA", "BBB"]
    assert [s["bars"] for s in report["run_card"]["per_symbol"]] == [2_000, 1_500]
    assert report["metrics"]["initial_equity"] == "100000.00000000"


def test_one_data_file_per_symbol_is_required(tmp_path):
    a = write_csv(tmp_path / "a.csv", 300)

    result = invoke(
        "backtest", "ma_crossover", "--symbol", "AAA", "--symbol", "BBB", "--timeframe", "1m",
        "--data", str(a),
    )  # fmt: skip

    assert result.exit_code == 2
    assert "one --data FILE per --symbol" in result.output
