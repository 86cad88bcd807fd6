"""Backtest benchmark: an SMA crossover over about a million 1m bars of one symbol.

Our engine runs the catalog's ``ma_crossover`` (SMA 50/200) through the live evaluator,
sizer, exit rule and paper fill model (fixed quantity, no charges, long-only, fill at the
next bar's open) and produces orders, fills, round trips and the equity curve marked at
every bar. Beside it, in the same run and on the same bars, when installed (``uv sync
--group bench``): vectorbt (``Portfolio.from_signals`` with the same crosses shifted to the
next open; numba compiled before timing) and backtrader (``CrossOver`` strategy, market
orders at the next open; on a slice of the bars, as it runs at about 13k bars/s).
``bars_per_s`` counts the engine's run; ``bars_per_s_with_report`` adds the metrics report.
"""

from __future__ import annotations

import importlib.util
import time
from decimal import Decimal

import numpy as np

from analytics_service.backtest.data import Bars, bars_from_arrays
from analytics_service.backtest.engine import run_backtest
from analytics_service.backtest.market import market_for
from analytics_service.backtest.report import build_report
from analytics_service.backtest.settings import BacktestRequest, BacktestSettings, Direction
from bench._core import Metric
from shared.contracts import Timeframe

DESCRIPTION = "backtester: SMA crossover bars/s on one symbol, beside vectorbt and backtrader"

SEED = 20241205
BARS = 1_000_000
QUICK_BARS = 200_000
BACKTRADER_BARS = 50_000
FAST, SLOW = 50, 200
TARGET = 1_000_000
START_NS = 1_704_067_200 * 10**9  # 2024-01-01 UTC


def synthetic_bars(n: int, seed: int = SEED, symbol: str = "SYNTH", grid: bool = True) -> Bars:
    """A random walk of ``n`` 1m bars (a symbol outside the catalog: 24x7), on a 0.01 grid
    unless ``grid`` is False (off the grid, two averages are never exactly equal)."""
    rng = np.random.default_rng(seed)

    def snap(x: np.ndarray) -> np.ndarray:
        return np.round(x, 2) if grid else x

    close = snap(100 * np.exp(np.cumsum(rng.normal(0, 0.001, n))))
    open_ = snap(np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.0002, n)))
    high = snap(np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0005, n))))
    low = snap(np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0005, n))))
    high, low = (
        np.maximum(high, np.maximum(open_, close)),
        np.minimum(low, np.minimum(open_, close)),
    )
    ts = START_NS + np.arange(n, dtype=np.int64) * 60 * 10**9
    return bars_from_arrays(symbol, Timeframe.M1, ts, open_, high, low, close, np.full(n, 100.0))


def crossover_request(
    fast: int = FAST, slow: int = SLOW, quantity: int = 1, symbol: str = "SYNTH"
) -> BacktestRequest:
    return BacktestRequest(
        strategy="ma_crossover",
        params={"fast": fast, "slow": slow, "ma_type": "sma"},
        symbol=symbol,
        timeframe=Timeframe.M1,
        settings=BacktestSettings(
            capital=Decimal(1_000_000),
            sizing_method="fixed_quantity",
            sizing_params={"quantity": str(quantity)},
            charges=False,
            direction=Direction.LONG_ONLY,
        ),
    )


def _best(fn: object, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def run_vectorbt(bars: Bars, fast: int = FAST, slow: int = SLOW) -> int:
    """The same crossover in vectorbt; returns the number of closed trades."""
    import pandas as pd
    import vectorbt as vbt

    index = pd.to_datetime(bars.ts)  # naive UTC: a tz-aware index makes vectorbt iterate it
    close = pd.Series(bars.close, index=index)
    open_ = pd.Series(bars.open, index=index)
    f = vbt.MA.run(close, fast).ma.to_numpy()
    s = vbt.MA.run(close, slow).ma.to_numpy()
    # Crosses with numpy (vectorbt's ma_crossed_above goes through pandas and is ~100x slower),
    # moved one bar later: the order is decided on the close and fills at the next open.
    up = np.zeros(len(f), dtype=bool)
    down = np.zeros(len(f), dtype=bool)
    up[2:] = (f[:-2] <= s[:-2]) & (f[1:-1] > s[1:-1])
    down[2:] = (f[:-2] >= s[:-2]) & (f[1:-1] < s[1:-1])
    pf = vbt.Portfolio.from_signals(
        close, up, down, price=open_, size=1.0, fees=0.0, init_cash=1_000_000, freq="1min"
    )
    return int(pf.trades.closed.count())


def run_backtrader(bars: Bars, fast: int = FAST, slow: int = SLOW) -> list[dict[str, object]]:
    """The same crossover in backtrader (orders at the next open); returns its trades."""
    import backtrader as bt
    import pandas as pd

    frame = pd.DataFrame(
        {
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        },
        index=pd.to_datetime(bars.ts).tz_localize(None),
    )
    trades: list[dict[str, object]] = []

    class Cross(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.cross = bt.ind.CrossOver(
                bt.ind.SMA(self.data.close, period=fast), bt.ind.SMA(self.data.close, period=slow)
            )
            self.entry: tuple[object, float] | None = None

        def next(self) -> None:
            if not self.position and self.cross[0] > 0:
                self.buy(size=1)
            elif self.position and self.cross[0] < 0:
                self.close()

        def notify_order(self, order: object) -> None:
            if order.status != order.Completed:  # type: ignore[attr-defined]
                return
            when = bt.num2date(order.executed.dt)  # type: ignore[attr-defined]
            price = order.executed.price  # type: ignore[attr-defined]
            if order.isbuy():  # type: ignore[attr-defined]
                self.entry = (when, price)
            elif self.entry is not None:
                trades.append(
                    {
                        "entry_time": self.entry[0],
                        "entry_price": self.entry[1],
                        "exit_time": when,
                        "exit_price": price,
                    }
                )
                self.entry = None

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(Cross)
    cerebro.broker.setcash(1_000_000)
    cerebro.run()
    return trades


def run(quick: bool) -> list[Metric]:
    n = QUICK_BARS if quick else BARS
    bars = synthetic_bars(n)
    request = crossover_request()
    instrument, fees = market_for(bars.symbol)
    repeat = 2 if quick else 3
    result = run_backtest(request, bars, instrument, fees)  # warm: imports, caches
    ours = _best(lambda: run_backtest(request, bars, instrument, fees), repeat)
    with_report = _best(lambda: build_report(run_backtest(request, bars, instrument, fees)), 1)
    closed = sum(1 for t in result.trades if t.exit_time is not None)

    vbt_rate: float | None = None
    if importlib.util.find_spec("vectorbt") is not None:
        run_vectorbt(synthetic_bars(1_000))  # compile the numba functions first
        vbt_rate = n / _best(lambda: run_vectorbt(bars), repeat)
    bt_rate: float | None = None
    slice_n = min(n, BACKTRADER_BARS // (5 if quick else 1))
    if importlib.util.find_spec("backtrader") is not None:
        part = synthetic_bars(slice_n)
        bt_rate = slice_n / _best(lambda: run_backtrader(part), 1)

    rate = n / ours
    return [
        Metric(
            "bars_per_s",
            rate,
            "bars/s",
            reference="vectorbt from_signals, same crossover and bars" if vbt_rate else None,
            reference_value=vbt_rate,
            target=f">= {TARGET:,} bars/s",
            met=rate >= TARGET,
        ),
        Metric(
            "bars_per_s_vs_backtrader",
            rate,
            "bars/s",
            reference=f"backtrader, same crossover ({slice_n:,} bars)" if bt_rate else None,
            reference_value=bt_rate,
        ),
        Metric("bars_per_s_with_report", n / with_report, "bars/s"),
        Metric("round_trips", float(closed), "trades"),
    ]
