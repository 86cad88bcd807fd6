"""A user's fills, positions, ledger entries and risk decisions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import insert

from order_processor.domain.risk import Decision
from shared.models import Fill, LedgerEntry, Order, Position, RiskDecisionRecord
from shared.repository import Page, UserScopedRepository


class FillTerms(Protocol):
    """What an account model books of a stored fill."""

    id: int
    broker_account_id: int
    symbol: str
    side: str
    product: str
    quantity: Decimal
    price: Decimal
    charges: Decimal
    ts: datetime


FILL_TERMS = (
    Fill.id,
    Fill.broker_account_id,
    Fill.symbol,
    Fill.side,
    Order.product,
    Fill.quantity,
    Fill.price,
    Fill.charges,
    Fill.ts,
)


class FillRepository(UserScopedRepository[Fill]):
    model = Fill
    not_found_message = "fill not found"

    async def search(
        self,
        limit: int,
        offset: int,
        *,
        broker_account_id: int | None = None,
        order_id: int | None = None,
        symbol: str | None = None,
    ) -> Page[Fill]:
        where = []
        if broker_account_id is not None:
            where.append(Fill.broker_account_id == broker_account_id)
        if order_id is not None:
            where.append(Fill.order_id == order_id)
        if symbol:
            where.append(Fill.symbol == symbol)
        return await self.list(limit, offset, *where)


class PositionRepository(UserScopedRepository[Position]):
    model = Position
    not_found_message = "position not found"

    async def for_key(
        self, account_id: int, symbol: str, product: str, *, for_update: bool = False
    ) -> Position | None:
        stmt = self._scoped().where(
            Position.broker_account_id == account_id,
            Position.symbol == symbol,
            Position.product == product,
        )
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)  # type: ignore[no-any-return]

    async def search(
        self, limit: int, offset: int, *, broker_account_id: int | None, open_only: bool
    ) -> Page[Position]:
        where = []
        if broker_account_id is not None:
            where.append(Position.broker_account_id == broker_account_id)
        if open_only:
            where.append(Position.quantity != Decimal(0))
        return await self.list(limit, offset, *where, order_by=Position.id)

    async def open_for_account(self, account_id: int) -> Sequence[Position]:
        stmt = self._scoped().where(
            Position.broker_account_id == account_id, Position.quantity != Decimal(0)
        )
        return (await self.session.scalars(stmt.order_by(Position.id))).all()

    async def open_positions(self) -> Sequence[Position]:
        """Every open position of the user, all accounts."""
        stmt = self._scoped().where(Position.quantity != Decimal(0)).order_by(Position.id)
        return (await self.session.scalars(stmt)).all()


class LedgerRepository(UserScopedRepository[LedgerEntry]):
    model = LedgerEntry
    not_found_message = "ledger entry not found"

    async def for_account(self, account_id: int) -> Sequence[LedgerEntry]:
        stmt = self._scoped().where(LedgerEntry.broker_account_id == account_id)
        return (await self.session.scalars(stmt.order_by(LedgerEntry.id))).all()


class RiskDecisionRepository(UserScopedRepository[RiskDecisionRecord]):
    model = RiskDecisionRecord
    not_found_message = "risk decision not found"

    async def record(
        self,
        order_id: int | None,
        decisions: Sequence[Decision],
        ts: datetime,
        *,
        prefix: str = "",
    ) -> None:
        """Store the chain's decisions on an order, passes included (one multi-row insert)."""
        if not decisions:
            return
        await self.session.execute(
            insert(RiskDecisionRecord),
            [
                {
                    "user_id": self.user_id,
                    "order_id": order_id,
                    "check_name": d.check,
                    "approved": d.approved,
                    "code": d.code,
                    "message": prefix + d.message,
                    "ts": ts,
                }
                for d in decisions
            ],
        )

    async def for_order(self, order_id: int) -> Sequence[RiskDecisionRecord]:
        stmt = self._scoped().where(RiskDecisionRecord.order_id == order_id)
        return (await self.session.scalars(stmt.order_by(RiskDecisionRecord.id))).all()
