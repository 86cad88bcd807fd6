"""``algotrade backtest`` and ``algotrade sweep`` on files: reports written, bad input named."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta

import polars as pl
from typer.testing import CliRunner

from algotrade.cli import app
from algotrade.context import CliContext
from bench.backtest import synthetic_bars
from shared.contracts import CandleMsg, Timeframe
from tests.analytics_service.backtest.factories import CROSS
from tests.analytics_service.backtest.lookahead_plugins import turn_plugins  # noqa: F401
from tests.api_gateway.conftest import settings_for


def write_csv(path, n=3_000, seed=None):
    bars = synthetic_bars(n) if seed is None else synthetic_bars(n, seed=seed)
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


def test_walk_forward_writes_one_stitched_out_of_sample_report(tmp_path):
    data = write_csv(tmp_path / "bars.csv", 3_000)
    out, page = tmp_path / "wf.json", tmp_path / "wf.html"

    result = invoke(
        "backtest", *BASE, "--data", str(data), "--param", "fast=5", "--param", "slow=20",
        "--quantity", "1", "--walk-forward", "3", "--out-of-sample", "0.3",
        "--json", str(out), "--html", str(page),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "walk-forward: 3 fold(s), 0.3 out of sample" in result.output
    report = json.loads(out.read_text())
    assert report["run_card"]["bars"] == 900
    assert report["run_card"]["first_bar"] == "2024-01-02T11:00:00Z"  # bar 2,100
    assert [w["out_of_sample"]["bars"] for w in report["walk_forward"]["windows"]] == [300] * 3
    assert "walk_forward" in report["conventions"]
    assert page.read_text().startswith("<!doctype html>")


def test_walk_forward_sweep_chooses_each_folds_parameters_in_sample(tmp_path):
    data = write_csv(tmp_path / "bars.csv", 3_000)
    out = tmp_path / "wf.json"

    result = invoke(
        "sweep", *BASE, "--data", str(data), "--grid", "fast=3,5", "--grid", "slow=20,30",
        "--quantity", "1", "--rank-by", "net_pnl", "--processes", "1",
        "--walk-forward", "2", "--out-of-sample", "0.4", "--anchored", "--json", str(out),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "stitched out of sample" in result.output
    windows = json.loads(out.read_text())["walk_forward"]["windows"]
    assert [w["in_sample"]["bars"] for w in windows] == [1_800, 2_400]  # anchored
    assert all(w["params"]["fast"] in (3, 5) for w in windows)
    assert all("net_pnl" in w["in_sample_metrics"] for w in windows)


def test_a_sweep_over_several_symbols_ranks_their_portfolio_runs(tmp_path):
    a, b = write_csv(tmp_path / "a.csv", 2_000), write_csv(tmp_path / "b.csv", 1_500, seed=7)
    out, page, best = tmp_path / "s.json", tmp_path / "s.html", tmp_path / "best.json"
    symbols = ("--symbol", "AAA", "--symbol", "BBB", "--timeframe", "1m")

    result = invoke(
        "sweep", "ma_crossover", *symbols, "--data", str(a), "--data", str(b),
        "--grid", "fast=5,10", "--grid", "slow=20,30", "--quantity", "1", "--rank-by",
        "net_pnl", "--processes", "1", "--json", str(out), "--html", str(page),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "AAA, BBB 1m: 4 runs by net_pnl" in " ".join(result.output.split())
    points = json.loads(out.read_text())["points"]
    assert [p["net_pnl"] for p in points] == sorted((p["net_pnl"] for p in points), reverse=True)
    top = points[0]
    again = invoke(
        "backtest", "ma_crossover", *symbols, "--data", str(a), "--data", str(b),
        "--param", f"fast={top['params']['fast']}", "--param", f"slow={top['params']['slow']}",
        "--quantity", "1", "--json", str(best),
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    report = json.loads(best.read_text())
    assert top["net_pnl"] == float(report["metrics"]["pnl"])  # the point is the portfolio run
    assert {t["symbol"] for t in report["trades"]} == {"AAA", "BBB"}
    assert "Sweep ma_crossover AAA, BBB 1m" in page.read_text()


def test_a_walk_forward_over_several_symbols_stitches_their_portfolio(tmp_path):
    a, b = write_csv(tmp_path / "a.csv", 3_000), write_csv(tmp_path / "b.csv", 3_000, seed=7)
    out = tmp_path / "wf.json"

    result = invoke(
        "backtest", "ma_crossover", "--symbol", "AAA", "--symbol", "BBB", "--timeframe", "1m",
        "--data", str(a), "--data", str(b), "--param", "fast=5", "--param", "slow=20",
        "--quantity", "1", "--walk-forward", "2", "--out-of-sample", "0.4",
        "--check-lookahead", "--json", str(out),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["run_card"]["symbol"] == ["AAA", "BBB"]
    assert [s["bars"] for s in report["run_card"]["per_symbol"]] == [1_200, 1_200]
    assert [w["out_of_sample"]["bars"] for w in report["walk_forward"]["windows"]] == [600, 600]
    assert {t["symbol"] for t in report["trades"]} == {"AAA", "BBB"}
    assert report["lookahead"] == []


def test_a_sweep_needs_one_data_file_per_symbol(tmp_path):
    a = write_csv(tmp_path / "a.csv", 300)

    result = invoke(
        "sweep", "ma_crossover", "--symbol", "AAA", "--symbol", "BBB", "--timeframe", "1m",
        "--data", str(a), "--grid", "fast=5,10",
    )  # fmt: skip

    assert result.exit_code == 2
    assert "one --data FILE per --symbol" in result.output


def test_walk_forward_with_too_few_bars_is_refused(tmp_path):
    data = write_csv(tmp_path / "bars.csv", 60)
    out = tmp_path / "wf.json"

    result = invoke(
        "backtest", *BASE, "--data", str(data), "--param", "fast=5", "--param", "slow=20",
        "--walk-forward", "10", "--json", str(out),
    )  # fmt: skip

    assert result.exit_code == 2
    assert "too few" in result.output
    assert not out.exists()


def test_intrabar_data_is_replayed_and_printed_in_the_conventions(tmp_path):
    fine = synthetic_bars(3_000)
    coarse = tmp_path / "5m.csv"
    five = pl.DataFrame(
        {"ts": fine.ts, "open": fine.open, "high": fine.high, "low": fine.low,
         "close": fine.close, "volume": fine.volume}
    ).with_columns(pl.col("ts") // (300 * 10**9)).group_by("ts", maintain_order=True).agg(
        pl.col("open").first(), pl.col("high").max(), pl.col("low").min(),
        pl.col("close").last(), pl.col("volume").sum(),
    )  # fmt: skip
    stamps = pl.Series((five["ts"] * 300 * 10**9).to_numpy().astype("datetime64[ns]"))
    five.with_columns(timestamp=stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ")).select(
        "timestamp", "open", "high", "low", "close", "volume"
    ).write_csv(coarse)
    minute = write_csv(tmp_path / "1m.csv", 3_000)
    out = tmp_path / "r.json"

    result = invoke(
        "backtest", "ma_crossover", "--symbol", "SYNTH", "--timeframe", "5m",
        "--data", str(coarse), "--intrabar-data", str(minute), "--param", "fast=5",
        "--param", "slow=20", "--quantity", "1", "--stops", "--json", str(out),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    conventions = json.loads(out.read_text())["conventions"]
    assert conventions["intrabar_candles"] == "1m"
    assert "replayed on its 1m candles" in conventions["intrabar_rule"]
    assert "replayed on its 1m candles" in " ".join(result.output.split())  # wrapped


def test_anchored_needs_a_walk_forward(tmp_path):
    data = write_csv(tmp_path / "bars.csv", 300)

    result = invoke("backtest", *BASE, "--data", str(data), "--anchored")

    assert result.exit_code == 2
    assert "--anchored goes with --walk-forward" in result.output


def test_sweep_writes_an_offline_page_of_the_ranked_points_and_the_best_report(tmp_path):
    data = write_csv(tmp_path / "bars.csv", 2_000)
    out, page = tmp_path / "s.json", tmp_path / "s.html"

    result = invoke(
        "sweep", *BASE, "--data", str(data), "--grid", "fast=5,10", "--grid", "slow=20:30:10",
        "--quantity", "1", "--rank-by", "net_pnl", "--processes", "1", "--json", str(out),
        "--html", str(page),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert text.startswith("<!doctype html>")
    assert "<script" not in text and "http" not in text  # nothing fetched
    points = json.loads(out.read_text())["points"]
    ranking = text[text.index("Grid points by net_pnl") : text.index("Best point")]
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>", ranking)
    assert rows == [
        (str(n), str(p["params"]["fast"]), str(p["params"]["slow"]))
        for n, p in enumerate(points, start=1)
    ]
    best = points[0]["params"]
    assert f"Best point: fast={best['fast']}, slow={best['slow']}" in text
    best_part = text[text.index("Best point") :]
    assert "<h2>Run card</h2>" in best_part and best_part.count("<svg") == 3


def _turn_args(tmp_path, strategy):
    data = write_csv(tmp_path / "bars.csv", 600)
    return (
        "backtest", strategy, "--symbol", "SYNTH", "--timeframe", "1m", "--data", str(data),
        "--quantity", "1", "--no-costs", "--walk-forward", "2", "--out-of-sample", "0.4",
        "--check-lookahead", "--json", str(tmp_path / "wf.json"),
    )  # fmt: skip


def test_walk_forward_checks_each_folds_signals_for_lookahead(tmp_path, turn_plugins):  # noqa: F811
    clean, _ = turn_plugins

    result = invoke(*_turn_args(tmp_path, clean))

    assert result.exit_code == 0, result.output
    assert "look-ahead check: 0 signal(s) changed" in result.output
    report = json.loads((tmp_path / "wf.json").read_text())
    assert report["lookahead"] == []
    assert report["walk_forward"]["folds"] == 2


def test_walk_forward_reports_a_scan_that_peeks_in_any_fold(tmp_path, turn_plugins):  # noqa: F811
    _, peeking = turn_plugins

    result = invoke(*_turn_args(tmp_path, peeking))

    assert result.exit_code == 1, result.output
    found = json.loads((tmp_path / "wf.json").read_text())["lookahead"]
    assert {f["fold"] for f in found} == {1, 2}
    assert all(f["problem"] == "the scan skips this bar on cut data" for f in found)
    assert f"look-ahead check: {len(found)} signal(s) changed" in result.output
    assert "(fold 2): the scan skips this bar" in " ".join(result.output.split())


CROSS_START = datetime(2024, 1, 1, tzinfo=UTC)


def _cross_candles(symbol="SYNTH", scale=1.0):
    """Closes whose SMA(2) crosses above SMA(3) on bar 4 (00:04) and below on bar 8."""
    out = []
    for i, close in enumerate(CROSS):
        t = CROSS_START + timedelta(minutes=i)
        price = close * scale
        out.append(
            CandleMsg(
                symbol=symbol, timeframe=Timeframe.M1, start=t, end=t + timedelta(minutes=1),
                open=price + 0.5 * scale, high=price + scale, low=price - scale, close=price,
                volume=10.0, trades=1,
            )
        )  # fmt: skip
    return out


def _cross_csv(path, first=0):
    rows = ["timestamp,open,high,low,close,volume"]
    rows += [
        f"{c.start.isoformat()},{c.open},{c.high},{c.low},{c.close},{c.volume}"
        for c in _cross_candles()[first:]
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


CROSS_ARGS = ("--param", "fast=2", "--param", "slow=3", "--param", "atr_period=2", "--quantity",
              "1", "--no-costs")  # fmt: skip


def test_bars_of_the_file_before_from_are_the_warmup(tmp_path):
    out, cut = tmp_path / "warm.json", tmp_path / "cut.json"
    whole, later = _cross_csv(tmp_path / "all.csv"), _cross_csv(tmp_path / "later.csv", 4)

    warm = invoke(
        "backtest", *BASE, "--data", str(whole), "--from", "2024-01-01T00:04:00Z", *CROSS_ARGS,
        "--json", str(out),
    )  # fmt: skip
    cold = invoke("backtest", *BASE, "--data", str(later), *CROSS_ARGS, "--json", str(cut))

    assert warm.exit_code == 0, warm.output
    assert cold.exit_code == 0, cold.output
    report = json.loads(out.read_text())
    first = report["trades"][0]
    assert (first["side"], first["entry_time"]) == ("BUY", "2024-01-01T00:05:00Z")
    assert report["run_card"]["first_bar"] == "2024-01-01T00:04:00Z"
    assert report["run_card"]["warmup_bars"] == 3
    assert report["equity"][0]["time"] == "2024-01-01T00:04:00Z"
    without = json.loads(cut.read_text())["trades"]
    assert all(t["entry_time"] != "2024-01-01T00:05:00Z" for t in without)


def test_a_store_range_reads_the_candles_before_from_as_warmup(tmp_path, request):
    context = CliContext.from_settings(settings_for("sqlite", request, tmp_path))
    store = context.tickstore

    async def put():
        await store.write_candles(_cross_candles("RELIANCE", scale=100.0))
        await store.flush()

    asyncio.run(put())
    out = tmp_path / "r.json"

    result = CliRunner().invoke(
        app,
        ["backtest", "ma_crossover", "--symbol", "RELIANCE", "--timeframe", "1m",
         "--from", "2024-01-01T00:04:00Z", "--to", "2024-01-01T00:12:00Z", *CROSS_ARGS,
         "--json", str(out)],
        obj=context,
        prog_name="algotrade",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert (report["run_card"]["bars"], report["run_card"]["warmup_bars"]) == (8, 3)
    first = report["trades"][0]
    assert (first["side"], first["entry_time"]) == ("BUY", "2024-01-01T00:05:00Z")
