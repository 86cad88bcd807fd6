"""Orders, fills, positions, the cash ledger, risk decisions, limits and trading halts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import (
    Base,
    BigId,
    Money,
    UTCDateTime,
    ids_never_reused,
    utcnow,
)


def _user_fk() -> ForeignKey:
    return ForeignKey("users.id", ondelete="CASCADE")


def _account_fk() -> ForeignKey:
    return ForeignKey("broker_accounts.id", ondelete="CASCADE")


class Order(Base):
    """An order. Its times are event times the order path sets from its clock (never the
    wall clock of the database session), so a replay or a backtest stores the same rows."""

    __tablename__ = "orders"
    __table_args__ = ids_never_reused(
        UniqueConstraint("user_id", "client_order_id"),
        Index("ix_orders_user_status", "user_id", "status"),
        Index("ix_orders_account_status", "broker_account_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, _user_fk(), nullable=False)
    broker_account_id: Mapped[int] = mapped_column(BigId, _account_fk(), nullable=False)
    client_order_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # SHA-256 of the canonical request: the same key with another body is refused.
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    side: Mapped[str] = mapped_column(String(4), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Money, nullable=False)
    order_type: Mapped[str] = mapped_column(String(8), nullable=False)
    limit_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    trigger_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    product: Mapped[str] = mapped_column(String(4), nullable=False)
    validity: Mapped[str] = mapped_column(String(4), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    filled_quantity: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), nullable=False)
    filled_value: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), nullable=False)
    fill_count: Mapped[int] = mapped_column(default=0, nullable=False)
    average_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    origin: Mapped[str] = mapped_column(String(16), nullable=False)
    subscription_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    algo_tag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    stop_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    target_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    reason_code: Mapped[str | None] = mapped_column(String(48), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    broker_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # One more on every change; order events carry it so consumers keep the newest.
    version: Mapped[int] = mapped_column(default=1, server_default="1", nullable=False)
    # The terms of a change asked for and not applied yet (status PENDING_UPDATE); None
    # keeps the current value. The order processor applies or refuses them, then clears them.
    amend_quantity: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    amend_limit_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    amend_trigger_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)


class Fill(Base):
    __tablename__ = "fills"
    __table_args__ = ids_never_reused(Index("ix_fills_user_ts", "user_id", "ts"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), index=True, nullable=False
    )
    user_id: Mapped[int] = mapped_column(BigId, _user_fk(), nullable=False)
    broker_account_id: Mapped[int] = mapped_column(BigId, _account_fk(), index=True, nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    side: Mapped[str] = mapped_column(String(4), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Money, nullable=False)
    price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    charges: Mapped[Decimal] = mapped_column(Money, nullable=False)
    charges_detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Position(Base):
    __tablename__ = "positions"
    __table_args__ = ids_never_reused(UniqueConstraint("broker_account_id", "symbol", "product"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, _user_fk(), index=True, nullable=False)
    broker_account_id: Mapped[int] = mapped_column(BigId, _account_fk(), nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    product: Mapped[str] = mapped_column(String(4), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), nullable=False)
    average_price: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), nullable=False)
    realised_pnl: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), nullable=False)
    # The time of the fill that last changed it (set by the booking, from event time).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class LedgerEntry(Base):
    """One cash flow of a broker account: fill notional, each charge, deposits."""

    __tablename__ = "ledger_entries"
    __table_args__ = ids_never_reused(Index("ix_ledger_account_ts", "broker_account_id", "ts"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, _user_fk(), nullable=False)
    broker_account_id: Mapped[int] = mapped_column(BigId, _account_fk(), nullable=False)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    order_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    fill_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    description: Mapped[str] = mapped_column(String(200), default="", nullable=False)


class RiskVerdict(Base):
    """One run of the risk chain on an order, pass or fail, for the audit trail: the
    verdict of every check it ran, in order, kept compactly in ``checks`` (a list of
    ``[check, approved, code, message]``) so deciding an order writes one row."""

    __tablename__ = "risk_verdicts"
    __table_args__ = ids_never_reused()

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, _user_fk(), index=True, nullable=False)
    order_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), index=True, nullable=True
    )
    approved: Mapped[bool] = mapped_column(Boolean, nullable=False)
    checks: Mapped[list[list[Any]]] = mapped_column(JSON, nullable=False)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class UserRiskLimits(Base):
    """A user's risk limits; absent fields take the platform defaults."""

    __tablename__ = "user_risk_limits"

    user_id: Mapped[int] = mapped_column(BigId, _user_fk(), primary_key=True)
    limits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class TradingHalt(Base):
    """A halt of everyone (``user_id`` null) or of one user; active while ``cleared_at`` is null."""

    __tablename__ = "trading_halts"
    __table_args__ = ids_never_reused(Index("ix_trading_halts_active", "user_id", "cleared_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(BigId, _user_fk(), nullable=True)
    reason: Mapped[str] = mapped_column(String(300), default="", nullable=False)
    created_by: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cleared_by: Mapped[int | None] = mapped_column(BigId, nullable=True)
