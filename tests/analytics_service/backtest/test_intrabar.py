"""Replaying finer candles inside a bar that reaches both the stop and the target."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from analytics_service.backtest import build_report, market_for, run_backtest
from analytics_service.backtest.data import Bars, bars_from_arrays
from shared.contracts import Timeframe
from shared.errors import DomainError
from tests.analytics_service.backtest.factories import CROSS, MINUTE, T0, request

OPEN = [c + 0.5 for c in CROSS]
HIGH = [c + 1 for c in CROSS]
LOW = [c - 1 for c in CROSS]
STEP = 5 * MINUTE
BOTH = 6  # the bar after the entry reaches both the stop and the target


def five_minute_bars() -> Bars:
    high, low = list(HIGH), list(LOW)
    high[BOTH], low[BOTH] = 40.0, 1.0
    ts = T0 + np.arange(len(CROSS), dtype=np.int64) * STEP
    n = len(CROSS)
    return bars_from_arrays(
        "SYNTH", Timeframe.M5, ts, np.array(OPEN), np.array(high), np.array(low),
        np.array(CROSS), np.full(n, 10.0),
    )  # fmt: skip


def one_minute_inside(candles: list[tuple[float, float, float, float]]) -> Bars:
    """1m candles (open, high, low, close) from the start of bar ``BOTH`` on."""
    start = T0 + BOTH * STEP
    ts = start + np.arange(len(candles), dtype=np.int64) * MINUTE
    o, h, lo, c = (np.array(col) for col in zip(*candles, strict=True))
    return bars_from_arrays(
        "SYNTH", Timeframe.M1, ts, o, h, lo, c, np.full(len(candles), 1.0), first_line=1
    )


QUIET = (13.5, 13.6, 13.4, 13.5)
UP_FIRST = [QUIET, (13.5, 40.0, 13.4, 30.0), (30.0, 30.0, 1.0, 5.0), (5.0, 9.0, 5.0, 9.0)]
DOWN_FIRST = [QUIET, (13.5, 13.6, 1.0, 5.0), (5.0, 40.0, 5.0, 30.0), (30.0, 30.0, 9.0, 9.0)]


def run(fine: Bars | None):
    req = request(stops=True).model_copy(update={"timeframe": Timeframe.M5})
    instrument, fees = market_for("SYNTH")
    return run_backtest(req, five_minute_bars(), instrument, fees, fine=fine)


def entry_order(result):
    return next(o for o in result.orders if o.algo_tag == "ma_crossover")


def test_without_finer_candles_the_stop_is_taken_first():
    result = run(None)

    assert result.trades[0].exit_reason == "stop"
    assert result.intrabar_unresolved == 1


def test_finer_candles_that_reach_the_target_first_exit_at_the_target():
    result = run(one_minute_inside(UP_FIRST))

    trade = result.trades[0]
    assert trade.exit_reason == "target"
    assert trade.exit_price == entry_order(result).target.quantize(trade.exit_price)
    # the 1m candle that reached it, not the 5m bar's start
    assert trade.exit_time == result.bars.time(BOTH) + timedelta(minutes=1)
    assert (result.intrabar_replayed, result.intrabar_unresolved) == (1, 0)


def test_finer_candles_that_reach_the_stop_first_exit_at_the_stop():
    result = run(one_minute_inside(DOWN_FIRST))

    trade = result.trades[0]
    assert trade.exit_reason == "stop"
    assert trade.exit_time == result.bars.time(BOTH) + timedelta(minutes=1)
    assert result.intrabar_replayed == 1


def test_the_report_prints_the_replay_in_its_conventions():
    result = run(one_minute_inside(UP_FIRST))

    conventions = build_report(result, version="x")["conventions"]

    assert conventions["intrabar_candles"] == "1m"
    assert "replayed on its 1m candles" in conventions["intrabar_rule"]
    assert "(1 exits)" in conventions["intrabar_rule"]


def test_finer_candles_must_divide_the_runs_timeframe():
    coarse = one_minute_inside(UP_FIRST)
    req = request(stops=True)
    instrument, fees = market_for("SYNTH")

    with pytest.raises(DomainError, match="cannot be replayed"):
        run_backtest(req, coarse, instrument, fees, fine=five_minute_bars())
