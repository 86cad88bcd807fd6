"""The audit log: rows are only ever inserted and read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import AuditEntry
from shared.repository import Page, paginate


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(
        self,
        action: str,
        *,
        actor_id: int | None,
        ts: datetime,
        target_type: str | None = None,
        target_id: object = None,
        ip_address: str | None = None,
        user_agent: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            ts=ts,
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            ip_address=ip_address,
            user_agent=(user_agent or "")[:300] or None,
            details=details or {},
        )
        self.session.add(entry)
        return entry

    async def search(
        self,
        *,
        actor_id: int | None,
        action: str | None,
        target_type: str | None,
        target_id: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> Page[AuditEntry]:
        stmt = select(AuditEntry)
        if actor_id is not None:
            stmt = stmt.where(AuditEntry.actor_id == actor_id)
        if action:
            stmt = stmt.where(AuditEntry.action == action)
        if target_type:
            stmt = stmt.where(AuditEntry.target_type == target_type)
        if target_id:
            stmt = stmt.where(AuditEntry.target_id == target_id)
        if since:
            stmt = stmt.where(AuditEntry.ts >= since)
        if until:
            stmt = stmt.where(AuditEntry.ts < until)
        return await paginate(self.session, stmt.order_by(AuditEntry.id.desc()), limit, offset)

    async def about_user(self, user_id: int, limit: int, offset: int) -> Page[AuditEntry]:
        """What the user did and what was done to them (their account, as a target), newest
        first."""
        stmt = select(AuditEntry).where(
            or_(
                AuditEntry.actor_id == user_id,
                and_(AuditEntry.target_type == "user", AuditEntry.target_id == str(user_id)),
            )
        )
        return await paginate(self.session, stmt.order_by(AuditEntry.id.desc()), limit, offset)
