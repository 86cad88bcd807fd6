"""Walk-forward and out-of-sample runs: the split, parameters chosen in sample, windows
traded out of sample only, and one stitched report."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from analytics_service.backtest import market_for, run_backtest
from analytics_service.backtest.walkforward import (
    WalkForwardSpec,
    run_walk_forward,
    split,
    walk_forward_report,
)
from bench.backtest import synthetic_bars
from shared.errors import DomainError
from tests.analytics_service.backtest.factories import request

PARAMS = {"fast": 5, "slow": 20}


def test_rolling_folds_tile_the_out_of_sample_part_after_equal_in_sample_windows():
    folds = split(1_000, WalkForwardSpec(folds=3, out_of_sample=0.3), warmup=21)

    assert [f.out_of_sample for f in folds] == [(700, 800), (800, 900), (900, 1_000)]
    assert [f.in_sample for f in folds] == [(0, 700), (100, 800), (200, 900)]


def test_anchored_in_sample_windows_start_at_the_first_bar():
    folds = split(1_000, WalkForwardSpec(folds=2, out_of_sample=0.2, anchored=True), 21)

    assert [f.in_sample for f in folds] == [(0, 800), (0, 900)]


def test_too_few_bars_for_the_windows_are_refused():
    with pytest.raises(DomainError, match="too few"):
        split(40, WalkForwardSpec(folds=2, out_of_sample=0.5), warmup=21)
    with pytest.raises(DomainError, match="folds"):
        WalkForwardSpec(folds=0)


def test_out_of_sample_run_trades_only_in_its_window_and_starts_flat():
    data = synthetic_bars(3_000)
    spec = WalkForwardSpec(folds=1, out_of_sample=0.3)

    (fold,) = run_walk_forward(request(PARAMS), data, spec)

    lo = fold.fold.out_of_sample[0]
    assert fold.run.bars.time(0) == data.time(lo)
    assert len(fold.run.bars) == 900
    assert fold.run.equity[0] == 100_000
    assert fold.run.trades and all(t.entry_time >= data.end(lo) for t in fold.run.trades)
    assert all(t.exit_time is not None for t in fold.run.trades)  # flat at the window's end


def test_one_fold_out_of_sample_equals_a_run_on_the_same_window_with_its_history():
    data = synthetic_bars(3_000)
    (fold,) = run_walk_forward(request(PARAMS), data, WalkForwardSpec(out_of_sample=0.3))
    instrument, fees = market_for("SYNTH")

    lead = 21  # the strategy's warm-up
    plain = run_backtest(
        request(PARAMS), data.slice(2_100 - lead, 3_000), instrument, fees, trade_from=lead
    )

    closed = [t for t in plain.trades if t.exit_time is not None]
    assert [(t.entry_time, t.pnl) for t in fold.run.trades[: len(closed)]] == [
        (t.entry_time, t.pnl) for t in closed
    ]


def test_grid_points_are_chosen_in_sample_per_fold():
    data = synthetic_bars(4_000)
    spec = WalkForwardSpec(folds=2, out_of_sample=0.4)

    folds = run_walk_forward(
        request(PARAMS), data, spec, grid={"fast": [3, 5, 8], "slow": [20, 40]}, rank_by="net_pnl"
    )

    for f in folds:
        assert f.params["fast"] in (3, 5, 8) and f.params["slow"] in (20, 40)
        assert f.run.request.params == f.params


def test_stitched_report_carries_each_folds_pnl_into_one_curve():
    data = synthetic_bars(4_000)
    spec = WalkForwardSpec(folds=3, out_of_sample=0.6)
    folds = run_walk_forward(request(PARAMS), data, spec)

    report = json.loads(json.dumps(walk_forward_report(request(PARAMS), data, spec, folds)))

    pnl = sum((f.run.final_equity - Decimal(100_000) for f in folds), Decimal(0))
    assert Decimal(report["metrics"]["final_equity"]) == Decimal(100_000) + pnl
    assert report["run_card"]["bars"] == 2_400
    assert report["equity"][0]["equity"] == 100_000
    assert len(report["trades"]) == sum(len(f.run.trades) for f in folds)
    windows = report["walk_forward"]["windows"]
    assert [w["out_of_sample"]["bars"] for w in windows] == [800, 800, 800]
    assert all("sharpe" in w["in_sample_metrics"] for w in windows)
    assert "rolling" in report["conventions"]["walk_forward"]


def test_a_walk_forward_is_cancelled_inside_its_first_fold():
    from analytics_service.backtest import BacktestCancelled

    asked = iter([False])  # not at the fold's start; from the first grid point on

    with pytest.raises(BacktestCancelled):
        run_walk_forward(
            request(PARAMS), synthetic_bars(3_000), WalkForwardSpec(folds=1, out_of_sample=0.3),
            grid={"fast": [3, 5]}, cancelled=lambda: next(asked, True),
        )  # fmt: skip
