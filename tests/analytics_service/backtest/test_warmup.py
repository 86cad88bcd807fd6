"""A run over a range reads the bars before it as warm-up, as live would, and trades from
its first bar; several symbols run as one portfolio; the look-ahead check reads the same
history the run read, in a whole run and in each walk-forward fold."""

from __future__ import annotations

from analytics_service.backtest import build_report
from analytics_service.backtest.engine import build_strategy, warmup_bars
from analytics_service.backtest.lookahead import check_lookahead
from analytics_service.backtest.portfolio import in_range, run_portfolio
from analytics_service.backtest.settings import BacktestRequest, BacktestSettings
from analytics_service.backtest.walkforward import WalkForwardSpec, run_walk_forward
from bench.backtest import synthetic_bars
from shared.contracts import Side, Timeframe
from strategy_workers.strategies.registry import registry
from tests.analytics_service.backtest.factories import CROSS, bars, request
from tests.analytics_service.backtest.lookahead_plugins import turn_plugins  # noqa: F401

OPEN = [c + 0.5 for c in CROSS]


def test_the_warmup_is_the_window_live_evaluation_reads_before_the_bar():
    assert warmup_bars(request({"fast": 2, "slow": 3, "atr_period": 2})) == 3  # SMA(3) + 1
    assert warmup_bars(request({"fast": 5, "slow": 20})) == 20
    volatility = request({"fast": 5, "slow": 20}, sizing_method="volatility", sizing_params={})
    assert warmup_bars(volatility) == 5 * 14 - 1  # the ATR sizer's window is longer


def test_a_cross_on_the_first_bar_of_the_range_trades_only_with_the_warmup():
    data = bars(CROSS, open_=OPEN)
    start = data.time(4)  # the averages cross on this bar's close
    req = request()

    (warm,) = run_portfolio(req, [in_range(data, start, None, warmup_bars(req))])
    (cold,) = run_portfolio(req, [in_range(data, start, None, 0)])

    assert (warm.trades[0].side, warm.trades[0].entry_time) == (Side.BUY, data.time(5))
    assert all(t.entry_time != data.time(5) for t in cold.trades)
    assert warm.bars.time(0) == start and len(warm.equity) == len(data) - 4
    report = build_report(warm, version="x")
    assert report["equity"][0] == {"time": "2024-01-01T00:04:00Z", "equity": 100000.0}
    assert (report["run_card"]["first_bar"], report["run_card"]["warmup_bars"]) == (
        "2024-01-01T00:04:00Z",
        3,
    )


def test_a_file_cut_at_the_range_keeps_the_warmup_before_it_and_nothing_after():
    data = synthetic_bars(500)

    got = in_range(data, data.time(100), data.time(300), 20)

    assert (len(got.bars), got.trade_from, got.traded_bars) == (220, 20, 200)
    assert got.bars.time(got.trade_from) == data.time(100)


def test_the_lookahead_check_reads_the_warmup_the_run_read():
    data = bars(CROSS, open_=OPEN)
    req = request()
    (run,) = run_portfolio(req, [in_range(data, data.time(4), None, warmup_bars(req))])

    assert run.signal_log[0][0] == 0  # a signal on the range's first bar
    assert check_lookahead(run, build_strategy(req, registry)) == []


def _plugin_request(name: str) -> BacktestRequest:
    return BacktestRequest(
        strategy=name,
        symbol="SYNTH",
        timeframe=Timeframe.M1,
        settings=BacktestSettings(
            sizing_method="fixed_quantity", sizing_params={"quantity": "1"}, charges=False
        ),
    )


def test_the_lookahead_check_runs_on_each_walk_forward_folds_window(turn_plugins):  # noqa: F811
    clean, peeking = turn_plugins
    spec = WalkForwardSpec(folds=2, out_of_sample=0.4)
    data = synthetic_bars(600)

    def findings(name: str) -> list[list[object]]:
        folds = run_walk_forward(_plugin_request(name), data, spec)
        return [check_lookahead(f.run, build_strategy(f.run.request, registry)) for f in folds]

    assert findings(clean) == [[], []]
    assert all(found for found in findings(peeking))
