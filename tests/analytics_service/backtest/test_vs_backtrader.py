"""Our trade list equals backtrader's for the same SMA crossover and conventions: signal on
the close, market fill at the next open, fixed quantity, no costs, long only.

The bars are off the price grid, so the two averages are never exactly equal (at an exact
tie, TA-Lib's and backtrader's sums round differently and the cross moves by a bar); our
fills are on the 0.01 grid, so backtrader's fill prices are put on it by the same rule.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

import pytest

from analytics_service.backtest.engine import run_backtest
from analytics_service.backtest.market import market_for
from bench.backtest import crossover_request, run_backtrader, synthetic_bars
from shared.instruments import round_to_tick

TICK = Decimal("0.01")


def on_grid(price: float) -> Decimal:
    return round_to_tick(Decimal(repr(price)), TICK)


@pytest.mark.parametrize(("fast", "slow", "seed"), [(10, 30, 1), (5, 20, 2), (50, 200, 3)])
def test_sma_crossover_trades_equal_backtraders(fast, slow, seed):
    bars = synthetic_bars(6_000, seed=seed, grid=False)
    instrument, fees = market_for(bars.symbol)

    ours = run_backtest(crossover_request(fast, slow), bars, instrument, fees)
    theirs = run_backtrader(bars, fast, slow)

    closed = [t for t in ours.trades if t.exit_time is not None]
    assert len(closed) > 10
    assert [
        (t.entry_time, t.entry_price, t.exit_time, t.exit_price, t.quantity, t.pnl) for t in closed
    ] == [
        (
            t["entry_time"].replace(tzinfo=UTC),
            on_grid(t["entry_price"]),
            t["exit_time"].replace(tzinfo=UTC),
            on_grid(t["exit_price"]),
            Decimal(1),
            on_grid(t["exit_price"]) - on_grid(t["entry_price"]),
        )
        for t in theirs
    ]
