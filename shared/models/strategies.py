"""Strategy subscriptions and the signals they produce."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.contracts import SubscriptionStatus
from shared.models.base import (
    Base,
    BigId,
    Money,
    TimestampMixin,
    UTCDateTime,
    ids_never_reused,
    utcnow,
)


class StrategySubscription(TimestampMixin, Base):
    """A user's strategy, with its parameters, applied to symbols on one timeframe."""

    __tablename__ = "strategy_subscriptions"
    __table_args__ = ids_never_reused(
        Index("ix_strategy_subscriptions_status_tf", "status", "timeframe")
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    broker_account_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("broker_accounts.id", ondelete="CASCADE"), index=True, nullable=False
    )
    name: Mapped[str] = mapped_column(String(100), default="", nullable=False)
    strategy: Mapped[str] = mapped_column(String(64), nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    symbols: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    timeframe: Mapped[str] = mapped_column(String(8), nullable=False)
    sizing_method: Mapped[str] = mapped_column(String(32), nullable=False)
    sizing_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    capital_allocation: Mapped[Decimal] = mapped_column(Money, nullable=False)
    mode: Mapped[str] = mapped_column(String(8), default="paper", nullable=False)
    status: Mapped[str] = mapped_column(
        String(16), default=SubscriptionStatus.ACTIVE.value, nullable=False
    )
    """A ``SubscriptionStatus`` value."""


class SignalRecord(Base):
    """A signal a subscription produced on a closed candle (stored once per signal id)."""

    __tablename__ = "signals"
    __table_args__ = ids_never_reused(Index("ix_signals_user_ts", "user_id", "candle_end"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    signal_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    subscription_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("strategy_subscriptions.id", ondelete="CASCADE"),
        index=True,
        nullable=False,
    )
    strategy: Mapped[str] = mapped_column(String(64), nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    timeframe: Mapped[str] = mapped_column(String(8), nullable=False)
    candle_end: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    action: Mapped[str] = mapped_column(String(8), nullable=False)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)
    price: Mapped[float] = mapped_column(Float, nullable=False)
    stop: Mapped[float | None] = mapped_column(Float, nullable=True)
    target: Mapped[float | None] = mapped_column(Float, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="", nullable=False)
    client_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
