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
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine


def on_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def one_of(
    session: AsyncSession, column: QueryableAttribute[Any], values: Collection[Any]
) -> ColumnElement[bool]:
    """``column IN values``, as one array parameter on PostgreSQL."""
    if on_postgres(session):
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.expression.type)))
    return column.in_(list(values))


def unnested(**columns: tuple[TypeEngine[Any], Sequence[Any]]) -> TableValuedAlias:
    """Lists of equal length as the rows of a table named by the keywords (PostgreSQL:
    ``unnest`` of one array parameter per column); each keyword gives a column's type and
    values."""
    arrays = [bindparam(None, list(values), type_=ARRAY(kind)) for kind, values in columns.values()]
    return func.unnest(*arrays).table_valued(*columns).render_derived()


def pair_of(
    session: AsyncSession,
    columns: tuple[QueryableAttribute[Any], QueryableAttribute[Any]],
    pairs: Collection[tuple[Any, Any]],
) -> ColumnElement[bool]:
    """``(a, b) IN pairs``, as two array parameters on PostgreSQL."""
    if not on_postgres(session):
        return tuple_(*columns).in_(list(pairs))
    listed = unnested(
        a=(columns[0].expression.type, [p[0] for p in pairs]),
        b=(columns[1].expression.type, [p[1] for p in pairs]),
    )
    return tuple_(*columns).in_(select(listed.c.a, listed.c.b))


async def next_ids(session: AsyncSession, table: str, n: int) -> list[int]:
    """``n`` new ids from ``table``'s id sequence, in one round trip (PostgreSQL only)."""
    found = await session.execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
        {"table": table, "n": n},
    )
    return [int(i) for (i,) in found.all()]
