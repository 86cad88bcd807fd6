"""Sweeps and walk-forward runs over several symbols: each grid point (each fold) runs all
of them as one portfolio, as a several-symbol backtest does."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from analytics_service.backtest.portfolio import SymbolData, run_portfolio
from analytics_service.backtest.report import metrics
from analytics_service.backtest.sweep import headline, run_sweep
from analytics_service.backtest.walkforward import (
    WalkForwardSpec,
    run_walk_forward,
    walk_forward_report,
)
from bench.backtest import synthetic_bars
from shared.errors import DomainError
from tests.analytics_service.backtest.factories import request

PARAMS = {"fast": 5, "slow": 20}


def two(n_first: int = 3_000, n_second: int = 3_000, offset: int = 0) -> list[SymbolData]:
    first = synthetic_bars(n_first, symbol="AAA")
    second = synthetic_bars(n_second + offset, seed=7, symbol="BBB")
    return [SymbolData(first), SymbolData(second.slice(offset, len(second)))]


def test_a_sweep_point_over_several_symbols_is_their_portfolio_run():
    data = two()
    grid = {"fast": [3, 5], "slow": [20, 40]}

    ranked, _ = run_sweep(request(PARAMS), data, grid, rank_by="net_pnl")

    assert len(ranked) == 4
    for point in ranked:
        runs = run_portfolio(request(point.params), data)
        assert point.summary == headline(metrics(runs))
    one, _ = run_sweep(request(PARAMS), data[:1], grid, rank_by="net_pnl")
    assert [p.summary for p in ranked] != [p.summary for p in one]


def test_a_walk_forward_over_one_symbols_data_equals_the_bars_path():
    bars = synthetic_bars(3_000)
    spec = WalkForwardSpec(folds=2, out_of_sample=0.4)

    plain = run_walk_forward(request(PARAMS), bars, spec)
    listed = run_walk_forward(request(PARAMS), [SymbolData(bars)], spec)

    assert [f.fold for f in plain] == [f.fold for f in listed]
    assert [[t.pnl for t in f.run.trades] for f in plain] == [
        [t.pnl for t in f.run.trades] for f in listed
    ]


def test_a_walk_forward_over_two_symbols_trades_each_fold_on_both():
    data = two()
    spec = WalkForwardSpec(folds=2, out_of_sample=0.4)
    grid = {"fast": [3, 5], "slow": [20, 40]}

    folds = run_walk_forward(request(PARAMS), data, spec, grid=grid, rank_by="net_pnl")
    report = json.loads(json.dumps(walk_forward_report(request(PARAMS), data, spec, folds)))

    assert [[r.bars.symbol for r in f.runs] for f in folds] == [["AAA", "BBB"]] * 2
    for f in folds:  # the in-sample choice is the portfolio's best point
        ranked, _ = run_sweep(
            request(PARAMS),
            [SymbolData(d.bars.slice(*w.in_sample)) for d, w in zip(data, f.windows, strict=True)],
            grid,
            rank_by="net_pnl",
        )
        assert f.params == ranked[0].params
    card = report["run_card"]
    assert card["symbol"] == ["AAA", "BBB"]
    assert [s["bars"] for s in card["per_symbol"]] == [1_200, 1_200]
    pnl = sum((r.final_equity - Decimal(100_000) for f in folds for r in f.runs), Decimal(0))
    assert Decimal(report["metrics"]["final_equity"]) == Decimal(200_000) + pnl
    assert {t["symbol"] for t in report["trades"]} == {"AAA", "BBB"}
    windows = report["walk_forward"]["windows"]
    assert [w["out_of_sample"]["bars"] for w in windows] == [600, 600]


def test_folds_are_cut_on_the_time_line_of_all_symbols():
    data = two(3_000, 2_000, offset=1_000)  # BBB starts 1,000 minutes after AAA
    spec = WalkForwardSpec(folds=2, out_of_sample=0.4)

    folds = run_walk_forward(request(PARAMS), data, spec)

    for f in folds:
        aaa, bbb = f.runs
        assert aaa.bars.time(0) == bbb.bars.time(0)  # the same window for both
        assert len(aaa.bars) == len(bbb.bars) == 600
    assert folds[0].windows[1].in_sample == (0, 1_800 - 1_000)  # BBB from its first bar


def test_a_symbol_with_no_bars_in_a_window_is_refused_by_name():
    data = two(3_000, 1_500)  # BBB ends halfway

    with pytest.raises(DomainError, match="BBB has 0 bars in fold 1's out-of-sample window"):
        run_walk_forward(request(PARAMS), data, WalkForwardSpec(folds=2, out_of_sample=0.4))
