"""Alerts: a user's history, notification channels, price alerts, and deliveries (an outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.alerts import Severity
from shared.models.base import Base, BigId, Money, TimestampMixin, UTCDateTime, ids_never_reused


def _user_fk() -> ForeignKey:
    return ForeignKey("users.id", ondelete="CASCADE")


class Alert(Base):
    """One alert of one user, as raised; ``source_key`` names the event it came from, so the
    same event (delivered again) never makes a second alert."""

    __tablename__ = "alerts"
    __table_args__ = ids_never_reused(
        UniqueConstraint("alert_id"),
        UniqueConstraint("user_id", "source_key"),
        Index("ix_alerts_user_created", "user_id", "created_at"),
        Index("ix_alerts_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    user_id: Mapped[int] = mapped_column(BigId, _user_fk(), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    severity: Mapped[str] = mapped_column(String(10), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, default="", nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    source_key: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AlertChannel(TimestampMixin, Base):
    """Where a user's alerts go besides the history: on or off, for some severities and kinds.

    ``config`` holds the public settings; the fields the sender names secret (bot tokens,
    webhook secrets, SMTP passwords) are in ``secrets_encrypted`` only, as encrypted JSON.
    """

    __tablename__ = "alert_channels"
    __table_args__ = ids_never_reused(Index("ix_alert_channels_user", "user_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, _user_fk(), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    severities: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: [s.value for s in Severity], nullable=False
    )
    """Severities sent through this channel, each on or off (at least one)."""
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    """Alert kinds sent through this channel; empty: every kind."""
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    secrets_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)


class PriceAlert(TimestampMixin, Base):
    """A user's price alert on a symbol: a crossing of ``price``, or a move of ``percent`` within
    ``window_minutes``; ``once`` alerts switch themselves off when they trigger."""

    __tablename__ = "price_alerts"
    __table_args__ = ids_never_reused(
        Index("ix_price_alerts_user", "user_id"),
        Index("ix_price_alerts_active", "active", "symbol"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, _user_fk(), nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    condition: Mapped[str] = mapped_column(String(16), nullable=False)
    price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    percent: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    window_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    repeat: Mapped[str] = mapped_column(String(10), default="once", nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    note: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    last_triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_triggered_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    trigger_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class AlertDelivery(Base):
    """One alert to one channel: the delivery outbox. ``pending`` rows are sent by the delivery
    loop when ``next_attempt_at`` is due, retried with back-off, and end ``sent`` or ``failed``
    (with ``last_error``)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = ids_never_reused(
        UniqueConstraint("alert_id", "channel_id"),
        Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
        Index("ix_alert_deliveries_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[int] = mapped_column(BigId, _user_fk(), nullable=False)
    channel_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("alert_channels.id", ondelete="CASCADE"), index=True, nullable=False
    )
    status: Mapped[str] = mapped_column(String(10), default="pending", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
