"""The strategy workers' application interface: the one module other packages import.

The gateway validates subscriptions and shows the catalog with it; everything
else of ``strategy_workers`` is private to the package (import-linter holds it).
"""

from __future__ import annotations

from strategy_workers.sizing import build_sizer, sizing_schemas
from strategy_workers.strategies import get_strategy, list_strategies, validate_params

__all__ = ["build_sizer", "get_strategy", "list_strategies", "sizing_schemas", "validate_params"]
