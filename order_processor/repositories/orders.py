"""A user's orders: by id or client order id, filtered lists, and the account's open ones."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import BigInteger, String, Table, any_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from order_processor.domain.states import (
    CANCELLABLE_STATES as CANCELLABLE,
)
from order_processor.domain.states import (
    IN_FLIGHT_STATES,
    TERMINAL_STATES,
    WORKING_STATES,
)
from order_processor.records import MOVED_COLUMNS, new_row
from shared.batch_sql import execute_many, fetch_rows, insert_rows, on_postgres
from shared.contracts import OrderStatus
from shared.errors import NotFound
from shared.models import Order
from shared.repository import Page, UserScopedRepository

OPEN_STATES = tuple(s.value for s in (WORKING_STATES | IN_FLIGHT_STATES) - {OrderStatus.PENDING})
"""Orders that may still become exposure once sent: SUBMITTED, UNKNOWN, OPEN, PARTIALLY_FILLED,
and those with a cancel or change under way."""
CANCELLABLE_STATES = tuple(s.value for s in CANCELLABLE)
NOT_TERMINAL = tuple(s.value for s in OrderStatus if s not in TERMINAL_STATES)


_TABLE = cast(Table, Order.__table__)
_MOVES = (*MOVED_COLUMNS, "version", "updated_at")
"""What booking a broker's event may change of an order (``records.apply_to_row``)."""
_UPDATE_MOVES = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("order_id"))
    .values({name: bindparam(f"new_{name}") for name in _MOVES})
)


_LOAD = select(*_TABLE.c).where(
    _TABLE.c.user_id == bindparam("user_id"),
    or_(
        _TABLE.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))),
        _TABLE.c.client_order_id == any_(bindparam("keys", type_=ARRAY(String))),
    ),
)
"""The orders of a user with any of some ids or client order ids (PostgreSQL: one text)."""


async def load_orders(
    session: AsyncSession, user_id: int, ids: Collection[int], keys: Collection[str]
) -> list[Order]:
    """The user's orders with any of ``ids`` or client order ids ``keys``, as rows outside
    the session, for a writer that holds their account's lock and stores what it changes
    with ``update_orders``.

    The rows are read as plain values and made into rows without the session's identity
    map and change tracking: booking a tick's fills reads and writes many orders, and the
    unit of work's bookkeeping for each cost more than the statements themselves.
    """
    if not ids and not keys:
        return []
    if on_postgres(session):
        params = {"user_id": user_id, "ids": list(ids), "keys": list(keys)}
        return [
            new_row(**values) for values in await fetch_rows(session, "orders.load", _LOAD, params)
        ]
    clauses = []
    if ids:
        clauses.append(_TABLE.c.id.in_(list(ids)))
    if keys:
        clauses.append(_TABLE.c.client_order_id.in_(list(keys)))
    found = await session.execute(
        select(*_TABLE.c).where(_TABLE.c.user_id == user_id, or_(*clauses))
    )
    return [new_row(**values) for values in found.mappings()]


async def update_orders(session: AsyncSession, rows: Sequence[Order]) -> None:
    """Write back what booking changed of rows read with ``load_orders`` (one statement)."""
    params = [{"order_id": r.id, **{f"new_{n}": r.__dict__[n] for n in _MOVES}} for r in rows]
    await execute_many(session, "orders.update_moves", _UPDATE_MOVES, params)


_COLUMNS = frozenset(c.key for c in _TABLE.columns)


async def insert_orders(session: AsyncSession, rows: Sequence[Order]) -> None:
    """Insert new order rows, ids given, as plain multi-row inserts.

    The rows stay out of the session: nothing in the transaction reads them back, and the
    unit of work's bookkeeping for each (history, identity map, flush ordering) costs more
    than the insert itself. Rows holding the same columns go in one statement.
    """
    await insert_rows(
        session, _TABLE, [{k: v for k, v in r.__dict__.items() if k in _COLUMNS} for r in rows]
    )


@dataclass(frozen=True)
class OrderFilters:
    status: OrderStatus | None = None
    symbol: str | None = None
    broker_account_id: int | None = None


class OrderRepository(UserScopedRepository[Order]):
    model = Order
    not_found_message = "order not found"

    async def get(self, row_id: int, *, for_update: bool = False) -> Order:
        """The user's order (404 otherwise); locked and re-read from the database if asked."""
        stmt = self._scoped().where(Order.id == row_id)
        if for_update:
            # A row loaded earlier in this transaction must not hide a change made
            # before the lock was granted.
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        row = await self.session.scalar(stmt)
        if row is None:
            raise NotFound(self.not_found_message)
        return row  # type: ignore[no-any-return]

    async def by_key(self, client_order_id: str, *, for_update: bool = False) -> Order | None:
        stmt = self._scoped().where(Order.client_order_id == client_order_id)
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)  # type: ignore[no-any-return]

    async def insert(self, row: Order) -> bool:
        """Insert ``row``; False when its client order id exists already (nothing inserted).

        A savepoint keeps the surrounding transaction usable after the unique
        violation; on PostgreSQL a concurrent insert of the same key waits for
        the first to commit and then fails here.
        """
        try:
            # begin_nested() flushes what is pending first: add the row inside the savepoint.
            async with self.session.begin_nested():
                self.add(row)
                await self.session.flush()
        except IntegrityError:
            if row in self.session:  # rolling the savepoint back usually expunged it already
                self.session.expunge(row)
            return False
        return True

    async def search(self, filters: OrderFilters, limit: int, offset: int) -> Page[Order]:
        where = []
        if filters.status is not None:
            where.append(Order.status == filters.status.value)
        if filters.symbol:
            where.append(Order.symbol == filters.symbol)
        if filters.broker_account_id is not None:
            where.append(Order.broker_account_id == filters.broker_account_id)
        return await self.list(limit, offset, *where)

    async def open_for_account(
        self, account_id: int, *, exclude_id: int | None = None, for_update: bool = False
    ) -> Sequence[Order]:
        """The account's orders that were sent and are not finished, oldest first."""
        stmt = self._scoped().where(
            Order.broker_account_id == account_id, Order.status.in_(OPEN_STATES)
        )
        if exclude_id is not None:
            stmt = stmt.where(Order.id != exclude_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt.order_by(Order.id))).all()

    async def open_terms(
        self, account_id: int, *, exclude_id: int | None = None
    ) -> list[tuple[str, str, Decimal, Decimal | None]]:
        """(symbol, side, remaining quantity, limit or trigger price) of the account's open orders.

        The risk view needs only these, and reading columns is much cheaper than rows.
        """
        stmt = (
            self._scoped()
            .with_only_columns(
                Order.symbol,
                Order.side,
                Order.quantity,
                Order.filled_quantity,
                Order.limit_price,
                Order.trigger_price,
            )
            .where(Order.broker_account_id == account_id, Order.status.in_(OPEN_STATES))
        )
        if exclude_id is not None:
            stmt = stmt.where(Order.id != exclude_id)
        rows = (await self.session.execute(stmt.order_by(Order.id))).all()
        return [
            (sym, side, qty - filled, limit if limit is not None else trigger)
            for sym, side, qty, filled, limit, trigger in rows
        ]

    async def cancellable(
        self, *, account_id: int | None = None, symbol: str | None = None
    ) -> Sequence[Order]:
        """Orders a cancel-all would cancel, locked, oldest first."""
        stmt = self._scoped().where(Order.status.in_(CANCELLABLE_STATES))
        if account_id is not None:
            stmt = stmt.where(Order.broker_account_id == account_id)
        if symbol:
            stmt = stmt.where(Order.symbol == symbol)
        stmt = stmt.order_by(Order.id).with_for_update().execution_options(populate_existing=True)
        return (await self.session.scalars(stmt)).all()

    async def submit_times(self, account_id: int, since: datetime) -> list[datetime]:
        """When the account's orders went to the broker, from ``since`` on (the order rate)."""
        stmt = (
            self._scoped()
            .with_only_columns(Order.submitted_at)
            .where(
                Order.broker_account_id == account_id,
                Order.submitted_at.is_not(None),
                Order.submitted_at >= since,
            )
        )
        return [ts for ts in (await self.session.scalars(stmt)).all() if ts is not None]

    async def not_finished(self) -> Sequence[Order]:
        """Every order of the user that is not in a terminal state (PENDING included)."""
        stmt = self._scoped().where(Order.status.in_(NOT_TERMINAL))
        return (await self.session.scalars(stmt.order_by(Order.id))).all()
