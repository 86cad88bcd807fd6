"""Platform-wide reads: what the order processor sweeps and what admins act on.

These queries cross users on purpose (the processor serves every account, an
admin halt can cover everyone). They return ids or rows for the caller to act
on through user-scoped repositories; no route hands them a user's input.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from order_processor.domain.states import WORKING_STATES
from shared.contracts import ORDER_PARTITIONS, OrderStatus, Product
from shared.models import BrokerAccount, Order, Position

WORKING = tuple(s.value for s in WORKING_STATES)


def _in(account_id: InstrumentedAttribute[int], partitions: Collection[int]) -> ColumnElement[bool]:
    """Rows of accounts in ``partitions`` (``account id % ORDER_PARTITIONS``)."""
    return (account_id % ORDER_PARTITIONS).in_(sorted(partitions))


class SystemQueries:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def orders_in(
        self,
        status: OrderStatus,
        *,
        before: datetime | None = None,
        limit: int = 500,
        partitions: Collection[int] | None = None,
    ) -> list[tuple[int, int]]:
        """(user_id, order_id) of orders in ``status`` created (sent; asked to change) before
        ``before``."""
        stamp: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None]
        if status is OrderStatus.PENDING:
            stamp = Order.created_at
        elif status in (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_UPDATE):
            stamp = Order.updated_at
        else:
            stamp = Order.submitted_at
        stmt = select(Order.user_id, Order.id).where(Order.status == status.value)
        if partitions is not None:
            stmt = stmt.where(_in(Order.broker_account_id, partitions))
        if before is not None:
            stmt = stmt.where(stamp < before)
        rows = await self.session.execute(stmt.order_by(Order.id).limit(limit))
        return [(u, i) for u, i in rows.all()]

    async def working_orders(
        self, broker: str = "paper", *, partitions: Collection[int] | None = None
    ) -> Sequence[Order]:
        """Every working order at ``broker`` (to rebuild its book after a restart)."""
        stmt = (
            select(Order)
            .join(BrokerAccount, BrokerAccount.id == Order.broker_account_id)
            .where(BrokerAccount.broker == broker, Order.status.in_(WORKING))
            .order_by(Order.id)
        )
        if partitions is not None:
            stmt = stmt.where(_in(Order.broker_account_id, partitions))
        return (await self.session.scalars(stmt)).all()

    async def order_terms(
        self, ids: Iterable[int]
    ) -> dict[int, tuple[str, Decimal, Decimal | None, Decimal | None]]:
        """Order id -> (status, quantity, limit price, trigger price), read as columns."""
        wanted = list(ids)
        found: dict[int, tuple[str, Decimal, Decimal | None, Decimal | None]] = {}
        for start in range(0, len(wanted), 500):
            stmt = select(
                Order.id, Order.status, Order.quantity, Order.limit_price, Order.trigger_price
            ).where(Order.id.in_(wanted[start : start + 500]))
            for oid, status, qty, limit, trigger in (await self.session.execute(stmt)).all():
                found[oid] = (status, qty, limit, trigger)
        return found

    async def accounts_with_open_mis(
        self, *, partitions: Collection[int] | None = None
    ) -> list[tuple[int, int]]:
        """(user_id, broker_account_id) of accounts holding an intraday position."""
        stmt = (
            select(Position.user_id, Position.broker_account_id)
            .where(Position.product == Product.MIS.value, Position.quantity != Decimal(0))
            .distinct()
        )
        if partitions is not None:
            stmt = stmt.where(_in(Position.broker_account_id, partitions))
        return [(u, a) for u, a in (await self.session.execute(stmt)).all()]

    async def open_position_symbols(
        self, *, partitions: Collection[int] | None = None
    ) -> list[tuple[int, int, str]]:
        """(user_id, broker_account_id, symbol) of every open position."""
        stmt = (
            select(Position.user_id, Position.broker_account_id, Position.symbol)
            .where(Position.quantity != Decimal(0))
            .distinct()
        )
        if partitions is not None:
            stmt = stmt.where(_in(Position.broker_account_id, partitions))
        return [(u, a, s) for u, a, s in (await self.session.execute(stmt)).all()]

    async def users_with_open_positions(self) -> list[int]:
        stmt = select(Position.user_id).where(Position.quantity != Decimal(0)).distinct()
        return sorted((await self.session.scalars(stmt)).all())

    async def lock_all_accounts(self) -> list[tuple[int, int]]:
        """Lock every broker account in id order (a global halt); (user_id, account_id)."""
        stmt = (
            select(BrokerAccount.user_id, BrokerAccount.id)
            .order_by(BrokerAccount.id)
            .with_for_update()
        )
        return [(u, a) for u, a in (await self.session.execute(stmt)).all()]
