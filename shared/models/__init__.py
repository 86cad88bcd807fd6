"""ORM models. Import every model here so Alembic sees the whole metadata."""

from shared.models.alerts import Alert, AlertChannel, AlertDelivery, PriceAlert
from shared.models.audit import AuditEntry
from shared.models.backtests import BacktestDataset, BacktestRun, BacktestSweepPoint
from shared.models.base import Base
from shared.models.brokers import BrokerAccount
from shared.models.outbox import OutboxBatch
from shared.models.partitions import OrderPartition, OrderProcessorMember
from shared.models.preferences import UserPreferences
from shared.models.recovery import RecoveryCode
from shared.models.strategies import SignalRecord, StrategySubscription
from shared.models.trading import (
    Fill,
    LedgerEntry,
    Order,
    Position,
    RiskVerdict,
    TradingHalt,
    UserRiskLimits,
)
from shared.models.users import RefreshToken, Role, TokenFamily, User

__all__ = [
    "Alert",
    "AlertChannel",
    "AlertDelivery",
    "AuditEntry",
    "BacktestDataset",
    "BacktestRun",
    "BacktestSweepPoint",
    "Base",
    "BrokerAccount",
    "Fill",
    "LedgerEntry",
    "Order",
    "OrderPartition",
    "OrderProcessorMember",
    "OutboxBatch",
    "Position",
    "PriceAlert",
    "RecoveryCode",
    "RefreshToken",
    "RiskVerdict",
    "Role",
    "SignalRecord",
    "StrategySubscription",
    "TokenFamily",
    "TradingHalt",
    "User",
    "UserPreferences",
    "UserRiskLimits",
]
