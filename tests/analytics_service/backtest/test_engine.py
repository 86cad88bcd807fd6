"""The backtest engine's conventions: fill price and time, slippage, charges, direction,
stops and targets, the marked equity curve, and the strategy's scan."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from analytics_service.backtest import BadData, market_for, run_backtest
from analytics_service.backtest.engine import build_strategy, candidate_bars
from analytics_service.backtest.settings import Direction, FillAt
from bench.backtest import synthetic_bars
from order_processor.domain.risk import RiskLimits
from shared.errors import DomainError
from strategy_workers.strategies.base import CandleWindow
from strategy_workers.strategies.registry import registry
from tests.analytics_service.backtest.factories import CROSS, bars, request

OPEN = [c + 0.5 for c in CROSS]
HIGH = [c + 1 for c in CROSS]
LOW = [c - 1 for c in CROSS]


def run(req, data=None, symbol="SYNTH"):
    instrument, fees = market_for(symbol)
    data = data if data is not None else bars(CROSS, open_=OPEN, high=HIGH, low=LOW)
    return run_backtest(req, data, instrument, fees)


def test_signal_on_close_fills_at_the_next_bars_open_by_default():
    result = run(request())

    (trade,) = result.trades
    assert (trade.entry_bar, trade.entry_price) == (5, Decimal("13.50"))
    assert (trade.exit_bar, trade.exit_price) == (8, Decimal("9.50"))
    assert trade.entry_time == result.bars.time(5)
    assert trade.pnl == Decimal("-40.00")


def test_fill_at_close_fills_on_the_signal_bar():
    result = run(request(fill=FillAt.CLOSE))

    (trade,) = result.trades
    assert (trade.entry_bar, trade.entry_price) == (4, Decimal("12.00"))
    assert (trade.exit_bar, trade.exit_price) == (7, Decimal("12.00"))
    assert trade.entry_time == result.bars.end(4)


def test_slippage_in_bps_and_ticks_goes_against_each_order():
    result = run(request(slippage_bps=Decimal(100), slippage_ticks=2))

    (trade,) = result.trades
    assert trade.entry_price == Decimal("13.64") + Decimal("0.02")  # 13.5 x 1.01 rounded up
    assert trade.exit_price == Decimal("9.40") - Decimal("0.02")  # 9.5 x 0.99 rounded down


def test_charges_follow_the_live_fee_schedule_and_can_be_switched_off():
    data = bars([c * 100 for c in CROSS], open_=[o * 100 for o in OPEN], symbol="RELIANCE")
    charged = run(request(symbol="RELIANCE"), data, "RELIANCE")
    free = run(request(symbol="RELIANCE", charges=False), data, "RELIANCE")

    assert charged.trades[0].charges > 0
    assert free.trades[0].charges == 0
    assert charged.trades[0].pnl == free.trades[0].pnl - charged.trades[0].charges


def test_long_only_never_opens_a_short_and_the_live_rule_does_from_flat():
    falling = [13.0, 13.0, 13.0, 13.0, 11.0, 10.0, 10.0, 11.0, 14.0, 14.0, 14.0, 14.0]
    data = bars(falling)

    live = run(request(), data)
    long_only = run(request(direction=Direction.LONG_ONLY), data)

    assert [t.side.value for t in live.trades] == ["SELL"]
    assert live.trades[0].exit_time is not None
    assert [t.side.value for t in long_only.trades] == ["BUY"]  # the cross up, from flat
    assert {s.reason for s in long_only.skipped} == {"long-only: no short opened"}


def test_equity_starts_at_the_capital_and_is_marked_at_every_close():
    result = run(request())

    assert result.equity[0] == 100_000
    assert len(result.equity) == len(result.bars)
    # long 10 from 13.50; marked at the close of bar 6 (13.00)
    assert result.equity[6] == pytest.approx(100_000 - 135 + 130)
    assert result.final_equity == Decimal("99960.00")


def test_a_bar_touching_stop_and_target_exits_at_the_stop():
    # Entry at bar 5's open (13.5); the stop sits below 13.5 - 2% and the target above.
    high = list(HIGH)
    low = list(LOW)
    high[6], low[6] = 40.0, 1.0
    data = bars(CROSS, open_=OPEN, high=high, low=low)

    result = run(request(stops=True), data)

    trade = result.trades[0]
    assert trade.exit_reason == "stop"
    assert trade.exit_bar == 6
    stop = next(o for o in result.orders if o.algo_tag == "ma_crossover").stop
    assert trade.exit_price == stop.quantize(Decimal("0.01"))


def test_a_gap_through_the_stop_fills_at_the_open():
    open_ = list(OPEN)
    low = list(LOW)
    open_[6], low[6] = 5.0, 4.0
    data = bars(CROSS, open_=open_, high=[max(h, o) for h, o in zip(HIGH, open_)], low=low)

    result = run(request(stops=True), data)

    assert result.trades[0].exit_reason == "stop"
    assert result.trades[0].exit_price == Decimal("5.00")


def test_report_breaks_round_trips_down_by_exit_reason():
    from analytics_service.backtest import build_report

    high, low = list(HIGH), list(LOW)
    high[6], low[6] = 40.0, 1.0

    report = build_report(run(request(stops=True), bars(CROSS, open_=OPEN, high=high, low=low)))

    assert report["by_exit_reason"]["stop"]["count"] == 1
    assert report["by_tag"]["ma_crossover"]["count"] == 1


def test_without_stops_the_position_waits_for_the_signal():
    high = list(HIGH)
    low = list(LOW)
    high[6], low[6] = 40.0, 1.0

    result = run(request(), bars(CROSS, open_=OPEN, high=high, low=low))

    assert result.trades[0].exit_reason == "signal"


def test_risk_chain_denies_what_the_limits_refuse():
    result = run(request(sizing_params={"quantity": "5000"}, risk=RiskLimits()))

    assert result.trades == []
    assert {o.reason_code for o in result.orders} == {"max_position_size"}


def test_mae_and_mfe_are_the_worst_and_best_marks_while_open():
    (trade,) = run(request()).trades

    # bars 5..8 low 12..8, high 14..13: from 13.50, 10 units
    assert trade.mae == pytest.approx((8.0 - 13.5) * 10)
    assert trade.mfe == pytest.approx((14.0 - 13.5) * 10)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sma_scan_finds_every_bar_the_windowed_evaluate_signals_on(seed):
    data = synthetic_bars(3_000, seed=seed)
    for fast, slow in ((2, 3), (5, 20)):
        strategy = build_strategy(request({"fast": fast, "slow": slow}), registry)
        window = data.window()
        every = []
        for i in range(strategy.warmup - 1, len(data)):
            lo = i + 1 - strategy.warmup
            view = CandleWindow(
                "SYNTH", window.timeframe, window.ts[lo : i + 1], window.open[lo : i + 1],
                window.high[lo : i + 1], window.low[lo : i + 1], window.close[lo : i + 1],
                window.volume[lo : i + 1],
            )  # fmt: skip
            if strategy.evaluate(view):
                every.append(i)
        scanned = set(candidate_bars(strategy, window).tolist())
        assert every
        assert set(every) <= scanned


def test_ema_strategies_are_evaluated_on_every_bar():
    strategy = build_strategy(request({"fast": 2, "slow": 3, "ma_type": "ema"}), registry)

    assert strategy.scan(synthetic_bars(100).window()) is None


def test_unknown_strategy_and_bad_parameters_are_refused():
    from analytics_service.backtest.settings import BacktestRequest

    base = request()
    with pytest.raises(DomainError, match="no strategy named"):
        run(BacktestRequest(**{**base.model_dump(), "strategy": "nope"}))
    with pytest.raises(DomainError, match="slow"):
        run(request({"fast": 10, "slow": 5}))


def test_too_few_bars_for_the_warmup_are_refused():
    with pytest.raises(DomainError, match="warm up"):
        run(request({"fast": 10, "slow": 30}))


def test_same_inputs_give_the_same_orders_and_keys():
    data = synthetic_bars(5_000)
    a, b = run(request(), data), run(request(), data)

    assert [o.client_order_id for o in a.orders] == [o.client_order_id for o in b.orders]
    assert np.array_equal(a.equity, b.equity)


def test_bad_bars_name_the_line_and_the_column():
    with pytest.raises(BadData) as raised:
        bars([10.0, 11.0, -1.0])

    assert (raised.value.line, raised.value.column) == (4, "open")


def test_trade_statistics_carry_mae_and_mfe_and_the_breakdowns_their_figures():
    from analytics_service.backtest import build_report

    high, low = list(HIGH), list(LOW)
    high[6], low[6] = 40.0, 1.0
    result = run(request(stops=True), bars(CROSS, open_=OPEN, high=high, low=low))
    closed = [t for t in result.trades if t.exit_time is not None]
    stopped = [t for t in closed if t.exit_reason == "stop"]

    report = build_report(result, version="x")

    stats = report["metrics"]["trades"]
    assert stats["average_mae"] == pytest.approx(np.mean([t.mae for t in closed]))
    assert stats["average_mfe"] == pytest.approx(np.mean([t.mfe for t in closed]))
    assert (
        stats["worst_mae"] == pytest.approx(min(t.mae for t in closed)) and stats["worst_mae"] < 0
    )
    assert stats["best_mfe"] == pytest.approx(max(t.mfe for t in closed))
    stop = report["by_exit_reason"]["stop"]
    assert Decimal(stop["expectancy"]) == sum(t.pnl for t in stopped) / len(stopped)
    assert stop["average_mae"] == pytest.approx(np.mean([t.mae for t in stopped]))
    assert "profit_factor" in stop
    assert report["by_tag"]["ma_crossover"]["average_mfe"] == pytest.approx(stats["average_mfe"])
