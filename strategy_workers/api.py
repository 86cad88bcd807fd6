"""The strategy workers' application interface: the one module other packages import.

The gateway validates subscriptions and shows the catalog with it; everything
else of ``strategy_workers`` is private to the package (import-linter holds it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strategy_workers.sizing import build_sizer, sizing_schemas
from strategy_workers.strategies import (
    build_strategy,
    get_strategy,
    list_strategies,
    validate_params,
)

__all__ = [
    "build_sizer",
    "get_strategy",
    "list_strategies",
    "sizing_schemas",
    "validate_params",
    "warmup_bars",
]


def warmup_bars(strategy: str, params: Mapping[str, Any] | None) -> int:
    """Bars of history ``strategy`` reads with ``params`` before it can signal."""
    return build_strategy(strategy, params).warmup
