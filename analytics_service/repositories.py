"""Read-only queries over one user's accounts, subscriptions, fills and ledger.

The order processor is the only writer of fills and the ledger; analytics reads
them here, every query bound to the user the repository was built for, so
another user's rows cannot be reached (they are simply not found).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVarTuple

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts import Side
from shared.models import BrokerAccount, Fill, LedgerEntry, Order, StrategySubscription
from shared.repository import UserScopedRepository

from .metrics.types import CashFlow, FillRecord

# Ledger kinds booked with a fill: fills are read from the fills table instead (one row per
# fill rather than one per charge). Every other kind is a flow of its own.
FILL_KINDS = ("FILL", "CHARGE")
# Capital moving in or out: not performance.
EXTERNAL_KINDS = frozenset({"DEPOSIT", "WITHDRAWAL"})
Ts = TypeVarTuple("Ts")


class AccountRepository(UserScopedRepository[BrokerAccount]):
    model = BrokerAccount
    not_found_message = "broker account not found"

    async def all(self) -> Sequence[BrokerAccount]:
        return (await self.session.scalars(self._scoped().order_by(BrokerAccount.id))).all()


class SubscriptionRepository(UserScopedRepository[StrategySubscription]):
    model = StrategySubscription
    not_found_message = "subscription not found"


@dataclass(frozen=True, slots=True)
class Version:
    """What a scope's numbers depend on in the database; it changes when a fill or a ledger
    entry arrives (ids only grow and history is never erased)."""

    last_fill_id: int
    fills: int
    last_ledger_id: int


class HistoryRepository:
    """A user's fills and ledger flows, for some of their accounts (and one subscription)."""

    def __init__(self, session: AsyncSession, user_id: int) -> None:
        self.session = session
        self.user_id = user_id

    def _where(
        self, account_ids: Sequence[int], subscription_id: int | None
    ) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [
            Fill.user_id == self.user_id,
            Order.user_id == self.user_id,
            Fill.broker_account_id.in_(account_ids),
        ]
        if subscription_id is not None:
            where.append(Order.subscription_id == subscription_id)
        return where

    def _joined(
        self, stmt: Select[*Ts], account_ids: Sequence[int], sub: int | None
    ) -> Select[*Ts]:
        """Fills of the accounts (of the subscription's orders), joined to their orders."""
        return stmt.join(Order, Order.id == Fill.order_id).where(*self._where(account_ids, sub))

    async def fills(
        self, account_ids: Sequence[int], until: datetime, *, subscription_id: int | None = None
    ) -> list[FillRecord]:
        """The fills up to ``until`` (inclusive), oldest first, with their order's product."""
        stmt = self._joined(
            select(
                Fill.id,
                Fill.ts,
                Fill.broker_account_id,
                Fill.symbol,
                Order.product,
                Fill.side,
                Fill.quantity,
                Fill.price,
                Fill.charges,
            ),
            account_ids,
            subscription_id,
        ).where(Fill.ts <= until)
        rows = await self.session.execute(stmt.order_by(Fill.ts, Fill.id))
        return [
            FillRecord(
                id=r.id,
                ts=r.ts,
                account_id=r.broker_account_id,
                symbol=r.symbol,
                product=r.product,
                side=Side(r.side),
                quantity=r.quantity,
                price=r.price,
                charges=r.charges,
            )
            for r in rows
        ]

    async def flows(self, account_ids: Sequence[int], until: datetime) -> list[CashFlow]:
        """Ledger entries not booked with a fill (deposits, withdrawals, adjustments)."""
        stmt = select(LedgerEntry.ts, LedgerEntry.kind, LedgerEntry.amount).where(
            LedgerEntry.user_id == self.user_id,
            LedgerEntry.broker_account_id.in_(account_ids),
            LedgerEntry.kind.not_in(FILL_KINDS),
            LedgerEntry.ts <= until,
        )
        rows = await self.session.execute(stmt.order_by(LedgerEntry.ts, LedgerEntry.id))
        return [CashFlow(r.ts, r.amount, r.kind in EXTERNAL_KINDS) for r in rows]

    async def version(
        self, account_ids: Sequence[int], *, subscription_id: int | None = None
    ) -> Version:
        fills = self._joined(
            select(func.max(Fill.id), func.count(Fill.id)), account_ids, subscription_id
        )
        last_fill, count = (await self.session.execute(fills)).one()
        ledger = select(func.max(LedgerEntry.id)).where(
            LedgerEntry.user_id == self.user_id, LedgerEntry.broker_account_id.in_(account_ids)
        )
        last_entry = await self.session.scalar(ledger)
        return Version(int(last_fill or 0), int(count or 0), int(last_entry or 0))
