"""The pre-trade risk chain: small pure checks over a read-only account view."""

from .base import (
    RISK_REDUCING,
    AccountView,
    Decision,
    PositionView,
    RiskCheck,
    WorkingOrderView,
    WorkingTotals,
)
from .chain import CHECK_FACTORIES, RiskChain, RiskResult, build_chain
from .limits import CHECK_NAMES, RiskLimits
from .projection import is_risk_reducing

__all__ = [
    "CHECK_FACTORIES",
    "CHECK_NAMES",
    "RISK_REDUCING",
    "AccountView",
    "Decision",
    "PositionView",
    "RiskChain",
    "RiskCheck",
    "RiskLimits",
    "RiskResult",
    "WorkingOrderView",
    "WorkingTotals",
    "build_chain",
    "is_risk_reducing",
]
