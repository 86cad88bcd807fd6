"""The strategy workers' database access: signals stored once, placed orders.

Runs inside the caller's transaction; never commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Order, SignalRecord

T = TypeVar("T")
CHUNK = 500  # rows per statement: well inside SQLite's and asyncpg's parameter limits

_SIGNALS = cast(Table, SignalRecord.__table__)
OrderKey = tuple[int, str]  # user, client order id


class SignalStore:
    """Queries of one evaluation transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_new(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Insert signals whose ``signal_id`` is not stored yet; the ids actually inserted.

        ``INSERT ... ON CONFLICT (signal_id) DO NOTHING RETURNING`` on both
        PostgreSQL and SQLite: concurrent or repeated runs of the same candle
        insert each signal once and each learns which rows were its own.
        """
        if not rows:
            return set()
        stmt = (
            self._insert()
            .on_conflict_do_nothing(index_elements=["signal_id"])
            .returning(_SIGNALS.c.signal_id)
        )
        # executemany: the statement compiles once (and is cached); SQLAlchemy batches the
        # rows into multi-row INSERTs ("insertmanyvalues") and gathers their RETURNING rows.
        inserted: set[str] = set()
        for chunk in _chunks(rows, CHUNK):
            result = await self.session.execute(stmt, list(chunk))
            inserted.update(result.scalars().all())
        return inserted

    def _insert(self) -> Any:
        table = _SIGNALS
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            return postgresql.insert(table)
        if dialect == "sqlite":
            return sqlite.insert(table)
        raise NotImplementedError(f"insert-if-absent is not written for {dialect}")

    async def placed_orders(self, keys: Iterable[OrderKey]) -> set[OrderKey]:
        """Which (user, client order id) pairs already have an order."""
        wanted = set(keys)
        found: set[OrderKey] = set()
        for chunk in _chunks(sorted(wanted), CHUNK):
            stmt = select(Order.user_id, Order.client_order_id).where(
                Order.user_id.in_({k[0] for k in chunk}),
                Order.client_order_id.in_([k[1] for k in chunk]),
            )
            found.update(
                (user, coid)
                for user, coid in (await self.session.execute(stmt)).all()
                if (user, coid) in wanted
            )
        return found


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
