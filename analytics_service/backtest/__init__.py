"""The backtester: a strategy run over history on the live code path (see docs/backtesting.md).

Pure: no web framework, database, Redis or Celery; the service and the transports that
store runs and report progress live outside this package.
"""

from typing import Any

from order_processor.domain.risk import RiskLimits
from strategy_workers.strategies.base import Strategy
from strategy_workers.strategies.registry import registry

from .data import BadData, Bars, Ticks, bars_from_candles, bars_from_ticks, load_bars
from .engine import BacktestCancelled, BacktestRun, Identity, build_strategy, run_backtest
from .market import market_for
from .report import build_report
from .settings import BacktestRequest, BacktestSettings, Direction, FillAt

__all__ = [
    "BacktestCancelled",
    "BacktestRequest",
    "BacktestRun",
    "BacktestSettings",
    "BadData",
    "Bars",
    "Direction",
    "FillAt",
    "Identity",
    "RiskLimits",
    "Ticks",
    "bars_from_candles",
    "bars_from_ticks",
    "build_report",
    "check_request",
    "load_bars",
    "market_for",
    "run_backtest",
]


def check_request(request: BacktestRequest) -> Strategy[Any]:
    """The request's strategy, built: 4xx for an unknown one, bad parameters or timeframe."""
    return build_strategy(request, registry)
