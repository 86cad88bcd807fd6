"""Broker accounts, reachable only through the owning user's repository."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select

from shared.contracts import OrderStatus, SubscriptionStatus
from shared.models import (
    BrokerAccount,
    Fill,
    LedgerEntry,
    Order,
    Position,
    StrategySubscription,
)
from shared.repository import UserScopedRepository

# Rows that make an account's history: while any exists the account is closed, never deleted.
HISTORY: dict[str, Any] = {
    "orders": Order,
    "fills": Fill,
    "ledger_entries": LedgerEntry,
    "positions": Position,
    "subscriptions": StrategySubscription,
}
# Orders past these states can never fill again; every other state may still become exposure.
_FINISHED = [
    s.value
    for s in (
        OrderStatus.DENIED,
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
        OrderStatus.EXPIRED,
        OrderStatus.REJECTED,
    )
]


class BrokerAccountRepository(UserScopedRepository[BrokerAccount]):
    model = BrokerAccount
    not_found_message = "broker account not found"

    async def label_taken(self, label: str, exclude_id: int | None = None) -> bool:
        stmt = self._scoped().where(BrokerAccount.label == label)
        if exclude_id is not None:
            stmt = stmt.where(BrokerAccount.id != exclude_id)
        return await self.session.scalar(select(stmt.exists())) or False

    async def history(self, account_id: int) -> dict[str, int]:
        """How many rows of each kind in ``HISTORY`` the account has."""
        return await self._counts(
            {
                name: (model, model.broker_account_id == account_id)
                for name, model in HISTORY.items()
            }
        )

    async def exposure(self, account_id: int) -> dict[str, int]:
        """Open positions and orders that may still fill (pending, sent, working)."""
        return await self._counts(
            {
                "open_positions": (
                    Position,
                    (Position.broker_account_id == account_id) & (Position.quantity != Decimal(0)),
                ),
                "working_orders": (
                    Order,
                    (Order.broker_account_id == account_id) & Order.status.not_in(_FINISHED),
                ),
            }
        )

    async def subscriptions(
        self, account_id: int, status: SubscriptionStatus
    ) -> list[StrategySubscription]:
        """The account's subscriptions in ``status``, locked for update."""
        stmt = (
            select(StrategySubscription)
            .where(
                StrategySubscription.user_id == self.user_id,
                StrategySubscription.broker_account_id == account_id,
                StrategySubscription.status == status,
            )
            .order_by(StrategySubscription.id)
            .with_for_update()
        )
        return list((await self.session.scalars(stmt)).all())

    async def _counts(self, what: dict[str, tuple[Any, ColumnElement[bool]]]) -> dict[str, int]:
        """One round trip: a count per name, each over the user's own rows only."""
        columns = [
            select(func.count())
            .select_from(model)
            .where(model.user_id == self.user_id, where)
            .scalar_subquery()
            .label(name)
            for name, (model, where) in what.items()
        ]
        row = (await self.session.execute(select(*columns))).one()
        return {name: int(count) for name, count in row._mapping.items()}
