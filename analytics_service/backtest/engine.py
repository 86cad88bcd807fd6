"""The backtest engine's entry point: a strategy's live evaluation, sizing, risk chain, fill
model and charges stepped over history, only where orders and positions change.

Signals: the strategy's ``scan`` narrows the bars to evaluate (an SMA crossover finds its
crosses with two vectorised averages over the whole history); on each of those bars the
live ``Evaluator`` runs the strategy's ``evaluate`` on the same window live would hand it and
sizes the signal with the subscription's sizer, producing the same order intents (and the
same idempotency keys) as live. The ``Simulation`` decides, fills and books them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from order_processor.domain.charges import FeeModel
from shared.contracts import CandleMsg, Timeframe
from shared.errors import Unprocessable
from shared.instruments import Instrument
from strategy_workers.evaluation import Evaluator, SubscriptionSpec
from strategy_workers.strategies.registry import StrategyRegistry
from strategy_workers.strategies.registry import registry as default_registry

from .data import TIMEFRAME_NS, Bars, Ticks, from_ns
from .results import BacktestCancelled, BacktestRun, FillRecord, Identity, Trade
from .settings import BacktestRequest, FillAt
from .signals import Windows, build_strategy, candidate_bars
from .simulation import Simulation

PROGRESS_EVERY = 2_000  # candidate bars between progress reports and cancel checks

__all__ = [
    "BacktestCancelled",
    "BacktestRun",
    "FillRecord",
    "Identity",
    "Simulation",
    "Trade",
    "build_strategy",
    "candidate_bars",
    "run_backtest",
    "warmup_bars",
]


def run_backtest(
    request: BacktestRequest,
    bars: Bars,
    instrument: Instrument,
    fee_model: FeeModel,
    *,
    identity: Identity = Identity(),
    registry: StrategyRegistry = default_registry,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    ticks: Ticks | None = None,
    fine: Bars | None = None,
    trade_from: int = 0,
    flatten: bool = False,
) -> BacktestRun:
    """Run ``request`` over ``bars`` of ``instrument``; raises 4xx ``DomainError``s for bad input.

    With ``ticks`` (the trades the bars were built from), orders are decided on the tick
    that closes a bar and fill on the first tick after that, as the live paper broker does.
    With ``fine`` (finer candles of the same symbol, e.g. 1m under a 5m run) a bar that
    reaches a stop or a target is replayed on them to tell which came first.
    ``trade_from``: the bars before it are history the strategy reads but never trades
    (the run and its report start there); ``flatten`` closes a position still open at the
    last bar's close.
    """
    strategy = build_strategy(request, registry)
    if fine is not None:
        check_fine(bars, fine)
    if not 0 <= trade_from < len(bars):
        raise Unprocessable("the traded bars must start inside the data")
    if len(bars) < strategy.warmup:
        raise Unprocessable(
            f"{len(bars)} candles are fewer than the {strategy.warmup} the strategy needs "
            "to warm up"
        )
    s = request.settings
    spec = _subscription(request, identity, bars.symbol)
    lot = instrument.lot_size
    evaluator = Evaluator(registry=registry, lot_size_for=lambda symbol: lot)
    window = bars.window()
    windows = Windows(window)
    candidates = candidate_bars(strategy, window)
    if trade_from:
        candidates = candidates[candidates >= trade_from]
    if ticks is not None and (s.stops or s.fill is FillAt.CLOSE):
        raise Unprocessable(
            "replayed ticks fill as live (on the next tick): stops, targets and fills at the "
            "close are conventions of bars"
        )
    sim = Simulation(request, bars, instrument, fee_model, identity, ticks, fine)
    step = bars.step_ns
    shell = _shell(bars.symbol, request.timeframe, int(bars.ts[0]))
    for n, i in enumerate(candidates.tolist()):
        if n % PROGRESS_EVERY == 0:
            if cancelled is not None and cancelled():
                raise BacktestCancelled("the backtest was cancelled")
            if progress is not None:
                progress(n / max(len(candidates), 1))
        sim.advance(i)
        now = sim.decision_time(i)
        if now is None:
            break
        windows.i = i
        start = int(bars.ts[i])
        candle = shell.model_copy(
            update={
                "start": from_ns(start),
                "end": from_ns(start + step),
                "open": float(bars.open[i]),
                "high": float(bars.high[i]),
                "low": float(bars.low[i]),
                "close": float(bars.close[i]),
                "volume": float(bars.volume[i]),
            }
        )
        result = evaluator.execute(evaluator.plan([candle], [spec]), windows)
        sim.run.evaluated_bars += 1
        sim.run.signals += len(result.signals)
        sim.run.signal_log.extend((i, signal) for signal in result.signals)
        sim.run.skipped.extend(result.skipped)
        sim.decide(i, result.intents, now)
    sim.finish(flatten=flatten)
    if progress is not None:
        progress(1.0)
    return trim(sim.run, trade_from) if trade_from else sim.run


def warmup_bars(request: BacktestRequest, registry: StrategyRegistry = default_registry) -> int:
    """Bars before the first bar of a range that a run reads so it can signal on that bar,
    as live would: the window live evaluation reads (the strategy's warm-up, or an ATR
    sizer's longer one) less the bar being decided. 4xx for a bad strategy or parameters."""
    strategy = build_strategy(request, registry)
    candle = _shell(request.symbol, request.timeframe, 0)
    plan = Evaluator(registry=registry).plan(
        [candle], [_subscription(request, Identity(), request.symbol)]
    )
    return max(plan.bars.get((request.symbol, request.timeframe), 0), strategy.warmup) - 1


def _subscription(request: BacktestRequest, identity: Identity, symbol: str) -> SubscriptionSpec:
    """The run as the live evaluator sees a subscription."""
    s = request.settings
    return SubscriptionSpec(
        id=identity.subscription_id,
        user_id=identity.user_id,
        broker_account_id=identity.broker_account_id,
        strategy=request.strategy,
        params=request.params,
        symbols=(symbol,),
        timeframe=request.timeframe,
        sizing_method=s.sizing_method,
        sizing_params=s.sizing_params,
        capital=s.capital,
        product=s.product,
    )


def _shell(symbol: str, timeframe: Timeframe, start_ns: int) -> CandleMsg:
    """A candle to copy each bar's values into (cheaper than building one per bar)."""
    return CandleMsg(
        symbol=symbol,
        timeframe=timeframe,
        start=from_ns(start_ns),
        end=from_ns(start_ns + TIMEFRAME_NS[timeframe]),
        open=1.0,
        high=1.0,
        low=1.0,
        close=1.0,
        volume=0.0,
        trades=0,
    )


def check_fine(bars: Bars, fine: Bars) -> None:
    """Finer candles must be of the same symbol, on a timeframe that divides the run's."""
    if fine.symbol != bars.symbol:
        raise Unprocessable(f"the finer candles are of {fine.symbol}, not {bars.symbol}")
    if fine.step_ns >= bars.step_ns or bars.step_ns % fine.step_ns:
        raise Unprocessable(
            f"{fine.timeframe} candles cannot be replayed inside {bars.timeframe} bars "
            "(a finer timeframe that divides the run's is needed)"
        )


def trim(run: BacktestRun, start: int) -> BacktestRun:
    """The run from bar ``start`` on: nothing was traded before it (the account is untouched
    there), so the bars, the curve and every bar index simply move; the whole data is kept
    as the run's history."""
    run.history, run.lead = run.bars, start
    run.bars = run.bars.slice(start, len(run.bars))
    run.equity = run.equity[start:]
    run.fills = [dataclasses.replace(f, bar=f.bar - start) for f in run.fills]
    for t in run.trades:
        t.entry_bar -= start
        if t.exit_bar is not None:
            t.exit_bar -= start
    run.signal_log = [(i - start, signal) for i, signal in run.signal_log]
    return run
