"""A user's fills, positions, ledger entries and risk decisions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple, cast

from sqlalchemy import Table, insert

from order_processor.domain.risk import Decision
from shared.models import Fill, LedgerEntry, Order, Position, RiskVerdict
from shared.repository import Page, UserScopedRepository


class FillTerms(NamedTuple):
    """What an account model books of a stored fill (the columns of ``FILL_TERMS``)."""

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


@dataclass(frozen=True, slots=True)
class CheckVerdict:
    """One check's verdict on an order, as stored in the order's risk verdicts."""

    check_name: str
    approved: bool
    code: str
    message: str
    ts: datetime


class RiskDecisionRepository(UserScopedRepository[RiskVerdict]):
    model = RiskVerdict
    not_found_message = "risk decision not found"

    async def record(
        self,
        order_id: int | None,
        decisions: Sequence[Decision],
        ts: datetime,
        *,
        prefix: str = "",
    ) -> None:
        """Store one run of the chain on an order, passes included (one row)."""
        if not decisions:
            return
        await self.session.execute(
            insert(cast(Table, RiskVerdict.__table__)),
            [
                {
                    "user_id": self.user_id,
                    "order_id": order_id,
                    "approved": all(d.approved for d in decisions),
                    "checks": [
                        [d.check, d.approved, d.code, prefix + d.message] for d in decisions
                    ],
                    "ts": ts,
                }
            ],
        )

    async def for_order(self, order_id: int) -> list[CheckVerdict]:
        """Every check's verdict on the order, runs of the chain in the order they ran."""
        stmt = self._scoped().where(RiskVerdict.order_id == order_id)
        runs = (await self.session.scalars(stmt.order_by(RiskVerdict.id))).all()
        return [
            CheckVerdict(check, approved, code, message, run.ts)
            for run in runs
            for check, approved, code, message in run.checks
        ]
