"""Trading halts (platform-wide or per user) and each user's risk limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from order_processor.domain.risk import RiskLimits
from shared.models import TradingHalt, UserRiskLimits


class HaltRepository:
    """Halts are read for one user (their own and the global one) or, by admins, all."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active_for(self, user_id: int) -> Sequence[TradingHalt]:
        """Active halts that stop ``user_id``: the global ones and the user's own."""
        stmt = select(TradingHalt).where(
            TradingHalt.cleared_at.is_(None),
            or_(TradingHalt.user_id.is_(None), TradingHalt.user_id == user_id),
        )
        return (await self.session.scalars(stmt.order_by(TradingHalt.id))).all()

    async def scopes_halting(self, user_id: int) -> list[int | None]:
        """The scopes of the active halts that stop ``user_id`` (None: the global halt)."""
        stmt = select(TradingHalt.user_id).where(
            TradingHalt.cleared_at.is_(None),
            or_(TradingHalt.user_id.is_(None), TradingHalt.user_id == user_id),
        )
        return list((await self.session.scalars(stmt)).all())

    async def active(self, user_id: int | None, *, for_update: bool = False) -> list[TradingHalt]:
        """Active halts of exactly one scope: ``None`` is the global halt."""
        scope = TradingHalt.user_id.is_(None) if user_id is None else TradingHalt.user_id == user_id
        stmt = select(TradingHalt).where(TradingHalt.cleared_at.is_(None), scope)
        if for_update:
            stmt = stmt.with_for_update()
        return list((await self.session.scalars(stmt.order_by(TradingHalt.id))).all())

    async def all_active(self) -> Sequence[TradingHalt]:
        stmt = select(TradingHalt).where(TradingHalt.cleared_at.is_(None))
        return (await self.session.scalars(stmt.order_by(TradingHalt.id))).all()

    def add(
        self, user_id: int | None, reason: str, created_by: int | None, now: datetime
    ) -> TradingHalt:
        halt = TradingHalt(user_id=user_id, reason=reason, created_by=created_by, created_at=now)
        self.session.add(halt)
        return halt


class LimitsRepository:
    """One user's risk limits; the platform defaults when none are stored."""

    def __init__(self, session: AsyncSession, user_id: int) -> None:
        self.session = session
        self.user_id = user_id

    async def get(self) -> RiskLimits:
        row = await self.session.get(UserRiskLimits, self.user_id)
        if row is None or not row.limits:
            return RiskLimits()
        return RiskLimits.model_validate(row.limits)
