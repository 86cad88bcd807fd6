"""Statements for batches that keep one text whatever the batch's size.

``column IN (:v1, :v2, ...)`` renders a new statement for every length of the
list. On PostgreSQL each new text is parsed, planned and prepared again (a round
trip, and asyncpg keeps about a hundred statements per connection, so a batch
path that reads 1 to 500 keys keeps evicting its own). There the list goes as
one array parameter instead: ``column = ANY(:values)``, and for pairs
``(a, b) IN (SELECT * FROM unnest(:as, :bs))``. Other databases get the plain
``IN``. Likewise a batch's new rows take their ids from the table's sequence in
one statement (``next_ids``) and go in as a plain multi-row insert, where an
insert returning its ids renders one text per number of rows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute


def on_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def one_of(
    session: AsyncSession, column: QueryableAttribute[Any], values: Collection[Any]
) -> ColumnElement[bool]:
    """``column IN values``, as one array parameter on PostgreSQL."""
    if on_postgres(session):
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.expression.type)))
    return column.in_(list(values))


def pair_of(
    session: AsyncSession,
    columns: tuple[QueryableAttribute[Any], QueryableAttribute[Any]],
    pairs: Collection[tuple[Any, Any]],
) -> ColumnElement[bool]:
    """``(a, b) IN pairs``, as two array parameters on PostgreSQL."""
    if not on_postgres(session):
        return tuple_(*columns).in_(list(pairs))
    firsts: Sequence[Any] = [p[0] for p in pairs]
    seconds: Sequence[Any] = [p[1] for p in pairs]
    listed = (
        func.unnest(
            bindparam(None, firsts, type_=ARRAY(columns[0].expression.type)),
            bindparam(None, seconds, type_=ARRAY(columns[1].expression.type)),
        )
        .table_valued("a", "b")
        .render_derived()
    )
    return tuple_(*columns).in_(select(listed.c.a, listed.c.b))


async def next_ids(session: AsyncSession, table: str, n: int) -> list[int]:
    """``n`` new ids from ``table``'s id sequence, in one round trip (PostgreSQL only)."""
    found = await session.execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
        {"table": table, "n": n},
    )
    return [int(i) for (i,) in found.all()]
