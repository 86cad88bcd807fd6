"""A user's dashboard preferences: kept server-side so they follow the user, not the browser."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, BigId, UTCDateTime, utcnow


class UserPreferences(Base):
    """One row per user who changed a preference; absent: the dashboard's defaults."""

    __tablename__ = "user_preferences"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    watchlist: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    symbol: Mapped[str | None] = mapped_column(String(32), nullable=True)
    theme: Mapped[str] = mapped_column(String(8), default="system", nullable=False)
    # Density and the panels shown (see api_gateway.schemas.preferences.Layout).
    layout: Mapped[dict[str, object]] = mapped_column(JSON, default=dict, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )
