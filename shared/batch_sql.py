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

On asyncpg the order path's batch statements (``insert_rows``, ``execute_many``,
``fetch_rows``) go straight through the driver, inside the session's transaction:
the statement is compiled by SQLAlchemy once, and each row's values go to asyncpg
as they are, without the per-row parameter processing of an ORM session (about
half the cost of a row there). Elsewhere (SQLite, a session with a time budget)
they run through the session as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Executable,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    column,
    func,
    insert,
    select,
    table,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

from shared.db import BoundedSession


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


def bound_rows(**columns: tuple[str, TypeEngine[Any]]) -> TableValuedAlias:
    """Arrays bound by name as the rows of a table (PostgreSQL: ``unnest``), for a statement
    built once; each keyword names a column and gives its parameter's name and element
    type."""
    binds = [bindparam(name, type_=ARRAY(kind)) for name, kind in columns.values()]
    return func.unnest(*binds).table_valued(*columns).render_derived()


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


_NEXT_IDS = text(
    "SELECT array_agg(id ORDER BY id) FROM"
    " (SELECT nextval(pg_get_serial_sequence(:table, 'id')) AS id"
    " FROM generate_series(1, :n)) AS taken"
)
"""The ids as one array (one value to decode, not a row per id)."""


@cache
def _counted_tables() -> dict[str, Table]:
    """The tables whose ids are counted and never reused (``ids_never_reused``: a sequence
    on PostgreSQL, AUTOINCREMENT on SQLite), by name."""
    from shared.models import Base

    return {
        t.name: t
        for t in Base.metadata.tables.values()
        if t.dialect_options["sqlite"].get("autoincrement")
    }


_SQLITE_SEQUENCE = table("sqlite_sequence", column("name", String), column("seq", Integer))


_SQLITE_SEQUENCE_ROW = text(
    "INSERT INTO sqlite_sequence (name, seq) SELECT :table, 0"
    " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = :table)"
)


async def next_ids(session: AsyncSession, table: str, n: int) -> list[int]:
    """``n`` new ids of ``table``, ascending, taken before the rows are inserted with them.

    PostgreSQL: from the table's sequence, in one round trip. SQLite: the table's
    AUTOINCREMENT counter (``sqlite_sequence``) moved past them; every SQLite transaction
    here holds the database's write lock from its start (``BEGIN IMMEDIATE``), so no other
    writer takes ids meanwhile, and a row inserted later the usual way gets an id above.
    """
    if table not in _counted_tables():
        raise ValueError(f"{table!r} is not a table with counted ids")
    if n <= 0:
        return []
    params = {"table": table, "n": n}
    if on_postgres(session):
        rows = await fetch_rows(session, "sequence.next_ids", _NEXT_IDS, params, tuples=True)
        ((ids,),) = rows
        return list(ids)
    await session.execute(_SQLITE_SEQUENCE_ROW, {"table": table})
    last = int(await session.scalar(_sqlite_take(table), params))
    return list(range(last - n + 1, last + 1))


@cache
def _sqlite_take(name: str) -> Executable:
    """SQLite: move ``name``'s AUTOINCREMENT counter ``:n`` past the highest id it has
    given or the table holds, returning where it stops (built once per table)."""
    counted = _counted_tables()[name]
    highest = select(func.coalesce(func.max(counted.c.id), 0)).scalar_subquery()
    return (
        update(_SQLITE_SEQUENCE)
        .where(_SQLITE_SEQUENCE.c.name == bindparam("table"))
        .values(seq=func.max(_SQLITE_SEQUENCE.c.seq, highest) + bindparam("n"))
        .returning(_SQLITE_SEQUENCE.c.seq)
    )


@dataclass(frozen=True)
class Driver:
    """The asyncpg connection of a session's transaction, and the SQLAlchemy connection
    over it (whose ``before_cursor_execute`` listeners hear of each statement sent)."""

    raw: Any
    connection: Any

    def announce(self, sql: str, parameters: Any, many: bool) -> None:
        """Tell the engine's statement listeners, as a statement sent through SQLAlchemy
        would (no cursor or execution context here: both are None)."""
        self.connection.dispatch.before_cursor_execute(
            self.connection, None, sql, parameters, None, many
        )


async def driver_connection(session: AsyncSession) -> Driver | None:
    """The asyncpg connection running ``session``'s transaction, for a batch statement sent
    straight through the driver; None where that cannot be: another driver, a session with
    a time budget (its statements are bounded through the session), or no transaction
    begun on the connection yet (a statement would run outside it)."""
    if session.get_bind().dialect.driver != "asyncpg" or isinstance(session, BoundedSession):
        return None
    conn = await session.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    if raw is None or not raw.is_in_transaction():
        return None
    return Driver(raw, conn.sync_connection)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    """The statement's parameters, in the order of its ``$n`` placeholders."""
    json: frozenset[str]
    """Parameters of JSON type: sent as their text (the codec SQLAlchemy sets takes it)."""
    direct: bool
    """Whether it can go through the driver: not where SQLAlchemy computes a column's value
    in Python (a default or ``onupdate`` the parameters leave out)."""


_COMPILED: dict[tuple[str, Any, Any], _Compiled] = {}


async def _direct(
    session: AsyncSession,
    key: Any,
    build: Callable[[], Any],
    column_keys: Sequence[str] | None = None,
) -> tuple[Driver, _Compiled] | None:
    """The driver connection and the statement compiled for it (once per dialect and
    ``key``), or None: the session runs the statement itself."""
    driver = await driver_connection(session)
    if driver is None:
        return None
    dialect = session.get_bind().dialect
    cache_key = (dialect.name, key, tuple(column_keys) if column_keys is not None else None)
    found = _COMPILED.get(cache_key)
    if found is None:
        compiled = build().compile(
            dialect=dialect, column_keys=list(column_keys) if column_keys is not None else None
        )
        names = tuple(compiled.positiontup or ())
        json = frozenset(n for n in names if isinstance(compiled.binds[n].type, JSON))
        computed = bool(compiled.insert_prefetch or compiled.update_prefetch)
        found = _Compiled(compiled.string, names, json, direct=not computed)
        _COMPILED[cache_key] = found
    return (driver, found) if found.direct else None


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _records(compiled: _Compiled, params: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    names = compiled.names
    if not compiled.json:
        return [tuple(p[n] for n in names) for p in params]
    json = compiled.json
    # A JSON value given for many rows (one object: a batch's shared verdicts) is written
    # once; the rows hold the objects, so no id here is reused while this runs.
    texts: dict[int, str] = {}

    def text_of(value: Any) -> str:
        found = texts.get(id(value))
        if found is None:
            found = texts[id(value)] = _json_text(value)
        return found

    return [tuple(text_of(p[n]) if n in json else p[n] for n in names) for p in params]


async def insert_rows(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert ``rows`` (column name -> value) into ``table``: one executemany per set of
    columns given, straight through asyncpg where ``driver_connection`` allows."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for columns, group in groups.items():
        direct = await _direct(session, table.name, lambda: insert(table), columns)
        if direct is None:
            await session.execute(insert(table), group)
            continue
        driver, compiled = direct
        records = _records(compiled, group)
        driver.announce(compiled.sql, records, True)
        await driver.raw.executemany(compiled.sql, records)


async def execute_many(
    session: AsyncSession, key: str, statement: Executable, params: Sequence[Mapping[str, Any]]
) -> None:
    """``statement`` (its parameters bound by name) once per item of ``params``; ``key``
    names the statement for its compiled form."""
    if not params:
        return
    direct = await _direct(session, key, lambda: statement)
    if direct is None:
        await session.execute(statement, list(params))
        return
    driver, compiled = direct
    records = _records(compiled, params)
    driver.announce(compiled.sql, records, True)
    await driver.raw.executemany(compiled.sql, records)


async def fetch_rows(
    session: AsyncSession,
    key: str,
    statement: Executable,
    params: Mapping[str, Any],
    *,
    tuples: bool = False,
) -> Sequence[Any]:
    """The rows of ``statement`` (its parameters bound by name) as mappings of column name
    to value, or with ``tuples`` as sequences of the values in the order of its columns;
    ``key`` names the statement for its compiled form."""
    direct = await _direct(session, key, lambda: statement)
    if direct is None:
        found = await session.execute(statement, dict(params))
        if tuples:
            return found.all()
        return [dict(row) for row in found.mappings()]
    driver, compiled = direct
    (args,) = _records(compiled, [params])
    driver.announce(compiled.sql, args, False)
    records: Sequence[Any] = await driver.raw.fetch(compiled.sql, *args)
    return records  # asyncpg's records: values by name and by position
