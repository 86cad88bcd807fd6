"""Queries of the order processor. User data is reached through repositories bound to the user;
the few platform-wide queries the processor and admins need live in ``system.py``."""

from order_processor.repositories.accounts import AccountRepository
from order_processor.repositories.book import (
    CheckVerdict,
    FillRepository,
    LedgerRepository,
    PositionRepository,
    RiskDecisionRepository,
)
from order_processor.repositories.control import HaltRepository, LimitsRepository
from order_processor.repositories.orders import OrderFilters, OrderRepository
from order_processor.repositories.system import SystemQueries

__all__ = [
    "AccountRepository",
    "CheckVerdict",
    "FillRepository",
    "HaltRepository",
    "LedgerRepository",
    "LimitsRepository",
    "OrderFilters",
    "OrderRepository",
    "PositionRepository",
    "RiskDecisionRepository",
    "SystemQueries",
]
