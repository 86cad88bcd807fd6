"""Broker accounts, reachable only through the owning user's repository."""

from __future__ import annotations

from sqlalchemy import select

from shared.models import BrokerAccount
from shared.repository import UserScopedRepository


class BrokerAccountRepository(UserScopedRepository[BrokerAccount]):
    model = BrokerAccount
    not_found_message = "broker account not found"

    async def label_taken(self, label: str, exclude_id: int | None = None) -> bool:
        stmt = self._scoped().where(BrokerAccount.label == label)
        if exclude_id is not None:
            stmt = stmt.where(BrokerAccount.id != exclude_id)
        return await self.session.scalar(select(stmt.exists())) or False
