"""Strategy plug-in API and catalog.

Built-in strategies are the modules of this package; third-party strategies
arrive through the ``algotrade.strategies`` entry point group.
"""

from strategy_workers.strategies.base import (
    ALL_TIMEFRAMES,
    CandleWindow,
    Signal,
    Strategy,
    StrategyParams,
)
from strategy_workers.strategies.registry import (
    ENTRY_POINT_GROUP,
    InvalidStrategyParams,
    StrategyInfo,
    StrategyRegistrationError,
    StrategyRegistry,
    UnknownStrategy,
    build_strategy,
    get_strategy,
    list_strategies,
    register,
    registry,
    validate_params,
)

__all__ = [
    "ALL_TIMEFRAMES",
    "ENTRY_POINT_GROUP",
    "CandleWindow",
    "InvalidStrategyParams",
    "Signal",
    "Strategy",
    "StrategyInfo",
    "StrategyParams",
    "StrategyRegistrationError",
    "StrategyRegistry",
    "UnknownStrategy",
    "build_strategy",
    "get_strategy",
    "list_strategies",
    "register",
    "registry",
    "validate_params",
]
