"""A registered plug-in (not in the catalog) backtests like a catalog strategy."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import Field

from analytics_service.backtest import build_report, market_for, run_backtest
from analytics_service.backtest.settings import BacktestRequest, BacktestSettings
from bench.backtest import synthetic_bars
from shared.contracts import Timeframe
from strategy_workers.strategies.base import (
    CandleWindow,
    Signal,
    SignalAction,
    Strategy,
    StrategyParams,
)
from strategy_workers.strategies.registry import registry


class EveryParams(StrategyParams):
    every: int = Field(10, ge=2, le=100)


class Every(Strategy[EveryParams]):
    """Buys on each ``every``-th minute and sells half-way between."""

    name = "plugin_every"
    description = "Test plug-in that trades on the clock."
    params_model = EveryParams
    timeframes: ClassVar[frozenset[Timeframe]] = frozenset({Timeframe.M1})

    @property
    def warmup(self) -> int:
        return 2

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        minute = int(window.ts[-1]) // (60 * 10**9)
        price = float(window.close[-1])
        if minute % self.params.every == 0:
            return [Signal(SignalAction.BUY, 0.9, price * 0.9, price * 1.1, "tick")]
        if minute % self.params.every == self.params.every // 2:
            return [Signal(SignalAction.SELL, 0.9, None, None, "tock")]
        return []


@pytest.fixture
def plugin(monkeypatch):
    registry.names()  # the built-ins and entry points are loaded first
    monkeypatch.setitem(registry._classes, Every.name, Every)
    return Every.name


def test_a_registered_plugin_runs_with_its_parameters_and_is_reported(plugin):
    request = BacktestRequest(
        strategy=plugin,
        params={"every": 20},
        symbol="SYNTH",
        timeframe=Timeframe.M1,
        settings=BacktestSettings(
            sizing_method="fixed_quantity", sizing_params={"quantity": "1"}, charges=False
        ),
    )
    instrument, fees = market_for("SYNTH")

    result = run_backtest(request, synthetic_bars(400), instrument, fees)
    report = build_report(result, version="x")

    assert len(result.trades) == 20  # a trip every 20 minutes over 400
    assert report["run_card"]["strategy"] == plugin
    assert report["run_card"]["params"] == {"every": 20}
    assert all(t.holding_seconds == 600 for t in result.trades if t.exit_time is not None)
