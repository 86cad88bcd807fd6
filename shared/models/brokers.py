"""Broker accounts linked by users; credentials are stored encrypted only."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, BigId, Money, TimestampMixin, UTCDateTime, ids_never_reused


class BrokerAccount(TimestampMixin, Base):
    __tablename__ = "broker_accounts"
    __table_args__ = ids_never_reused(UniqueConstraint("user_id", "label"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    broker: Mapped[str] = mapped_column(String(32), nullable=False)
    label: Mapped[str] = mapped_column(String(100), nullable=False)
    credentials_encrypted: Mapped[str | None] = mapped_column(String(4000), nullable=True)
    credentials_hint: Mapped[str | None] = mapped_column(String(8), nullable=True)
    starting_capital: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(8), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # Set once when the owner closes the account; a closed account is never reopened.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
