"""Two-factor recovery codes: single-use stand-ins for a TOTP code, stored only as digests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, BigId, UTCDateTime, ids_never_reused


class RecoveryCode(Base):
    """One code of a user's current set; ``used_at`` set when it has been spent."""

    __tablename__ = "recovery_codes"
    __table_args__ = ids_never_reused(UniqueConstraint("user_id", "code_hash"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
