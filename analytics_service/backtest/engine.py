"""The backtest engine's entry point: a strategy's live evaluation, sizing, risk chain, fill
model and charges stepped over history, only where orders and positions change.

Signals: the strategy's ``scan`` narrows the bars to evaluate (an SMA crossover finds its
crosses with two vectorised averages over the whole history); on each of those bars the
live ``Evaluator`` runs the strategy's ``evaluate`` on the same window live would hand it and
sizes the signal with the subscription's sizer, producing the same order intents (and the
same idempotency keys) as live. The ``Simulation`` decides, fills and books them.
"""

from __future__ import annotations

from collections.abc import Callable

from order_processor.domain.charges import FeeModel
from shared.contracts import CandleMsg
from shared.errors import Unprocessable
from shared.instruments import Instrument
from strategy_workers.evaluation import Evaluator, SubscriptionSpec
from strategy_workers.strategies.registry import StrategyRegistry
from strategy_workers.strategies.registry import registry as default_registry

from .data import Bars, Ticks, from_ns
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
) -> BacktestRun:
    """Run ``request`` over ``bars`` of ``instrument``; raises 4xx ``DomainError``s for bad input.

    With ``ticks`` (the trades the bars were built from), orders are decided on the tick
    that closes a bar and fill on the first tick after that, as the live paper broker does.
    """
    strategy = build_strategy(request, registry)
    if len(bars) < strategy.warmup:
        raise Unprocessable(
            f"{len(bars)} candles are fewer than the {strategy.warmup} the strategy needs "
            "to warm up"
        )
    s = request.settings
    spec = SubscriptionSpec(
        id=identity.subscription_id,
        user_id=identity.user_id,
        broker_account_id=identity.broker_account_id,
        strategy=request.strategy,
        params=request.params,
        symbols=(bars.symbol,),
        timeframe=request.timeframe,
        sizing_method=s.sizing_method,
        sizing_params=s.sizing_params,
        capital=s.capital,
        product=s.product,
    )
    lot = instrument.lot_size
    evaluator = Evaluator(registry=registry, lot_size_for=lambda symbol: lot)
    window = bars.window()
    windows = Windows(window)
    candidates = candidate_bars(strategy, window)
    if ticks is not None and (s.stops or s.fill is FillAt.CLOSE):
        raise Unprocessable(
            "replayed ticks fill as live (on the next tick): stops, targets and fills at the "
            "close are conventions of bars"
        )
    sim = Simulation(request, bars, instrument, fee_model, identity, ticks)
    step = bars.step_ns
    shell = CandleMsg(
        symbol=bars.symbol,
        timeframe=request.timeframe,
        start=bars.time(0),
        end=bars.end(0),
        open=1.0,
        high=1.0,
        low=1.0,
        close=1.0,
        volume=0.0,
        trades=0,
    )
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
    sim.finish()
    if progress is not None:
        progress(1.0)
    return sim.run
