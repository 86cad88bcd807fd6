"""Database engine and session factories for SQLite, PostgreSQL and PostgreSQL behind PgBouncer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from shared.config import Settings
from shared.errors import ServiceUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
ROLLBACK_S = 1.0  # a rollback after the budget is spent may still take this long


def create_engine(
    settings: Settings, url: str | None = None, *, pre_ping: bool | None = None
) -> AsyncEngine:
    """An async engine for ``url`` (default: the services' URL from settings); ``pre_ping``
    overrides ``db_pool_pre_ping`` (ping each connection as it leaves the pool).

    Behind PgBouncer in transaction pooling mode a server connection may change
    between statements, so prepared statements are disabled: asyncpg gets no
    statement caches and unique statement names (SQLAlchemy's documented
    settings), psycopg gets ``prepare_threshold=None``.
    """
    target = make_url(url or settings.sqlalchemy_url)
    kwargs: dict[str, Any] = {}
    connect_args: dict[str, Any] = {}
    if target.get_backend_name() == "sqlite":
        connect_args["timeout"] = 30
        # SQLite connections are cheap to open; not pooling them keeps them off any one
        # event loop (the CLI, the server and the tests each run their own).
        kwargs["poolclass"] = NullPool
    else:
        kwargs.update(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            pool_recycle=settings.db_pool_recycle,
            pool_pre_ping=settings.db_pool_pre_ping if pre_ping is None else pre_ping,
        )
        behind_bouncer = settings.use_pgbouncer and url is None
        if target.get_driver_name() == "asyncpg":
            connect_args["timeout"] = settings.db_connect_timeout
            connect_args["command_timeout"] = settings.db_statement_timeout_ms / 1000
            if behind_bouncer:
                connect_args["statement_cache_size"] = 0
                connect_args["prepared_statement_cache_size"] = 0
                connect_args["prepared_statement_name_func"] = _unique_statement_name
            else:
                connect_args["server_settings"] = {
                    "statement_timeout": str(settings.db_statement_timeout_ms)
                }
        elif target.get_driver_name() == "psycopg":
            connect_args["connect_timeout"] = max(1, round(settings.db_connect_timeout))
            if behind_bouncer:
                connect_args["prepare_threshold"] = None
    engine = create_async_engine(target, connect_args=connect_args, **kwargs)
    if target.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    return engine


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4()}__"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy issue BEGIN itself (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # SQLite cannot upgrade a read transaction to a write one under contention
    # (it fails at once instead of waiting), so every transaction takes the write
    # lock up front and waits for it: the embedded profile serialises its writes.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class DatabaseTimeout(ServiceUnavailable):
    """The database did not answer within the time a request may wait for it (a 503)."""


class ReadOnlyViolation(RuntimeError):
    """A read-only session was asked to write (a programming error: a 500)."""


def _writes(statement: Any) -> bool:
    return bool(getattr(statement, "is_dml", False))


class BoundedSession(AsyncSession):
    """An ``AsyncSession`` whose database work, all its calls together, takes at most
    ``budget`` seconds; then ``DatabaseTimeout`` is raised at once.

    Each statement's own limits (connect, pool and statement timeouts) can add up to much
    more than a client should wait while a server or PgBouncer is paused, and a driver may
    not give up at once when told to (it cancels the statement on the server, or waits
    for a locked SQLite file): so the work runs as its own task, the caller stops waiting
    when the budget is spent, and the session winds down in the background (its
    connections are dropped once the driver lets go). A timed-out session does no more
    work. Time spent elsewhere (hashing a password, calling the tick store) does not count.

    The session's first statement is tried once more on a fresh connection when its pooled
    connection turns out dead (the server restarted, or dropped it while idle): nothing of
    the session had happened yet, and the pool replaces its other connections of before
    the failure as they are next taken, so a pool need not ping every checkout. A
    ``read_only`` session refuses to write (``ReadOnlyViolation``): it may run in
    autocommit, where a write would commit at once.
    """

    def __init__(
        self,
        *args: Any,
        budget: float | None = None,
        read_only: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget
        self.read_only = read_only
        self._left = budget
        self._depth = 0  # calls nest (scalars runs execute): only the outermost is timed
        self._statements = 0  # outermost calls that reached the database and returned
        self.timed_out = False

    async def _retried(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """``work()`` bounded; the session's first statement once more if its connection
        was found dead."""
        first = self._statements == 0 and not self._depth
        try:
            result = await self._bounded(work())
        except DBAPIError as exc:
            if not (first and exc.connection_invalidated and not self.timed_out):
                raise
            log.info("a pooled database connection was dead; trying on a fresh one: %s", exc)
            await AsyncSession.rollback(self)  # lets the dead connection go
            result = await self._bounded(work())
        if not self._depth:
            self._statements += 1
        return result

    def _check_writes(self, statement: Any) -> None:
        if self.read_only and _writes(statement):
            raise ReadOnlyViolation("a read-only session was asked to write")

    def _check_flush(self) -> None:
        if self.read_only and (self.new or self.dirty or self.deleted):
            raise ReadOnlyViolation("a read-only session has changes to write")

    async def _bounded(self, work: Coroutine[Any, Any, T]) -> T:
        if self._left is None or self._depth:
            return await work
        if self.timed_out:
            work.close()
            raise self._timeout()
        loop = asyncio.get_running_loop()
        started = loop.time()
        self._depth += 1
        task = asyncio.ensure_future(work)
        try:
            done, _ = await asyncio.wait({task}, timeout=max(self._left, 0.0))
        except asyncio.CancelledError:  # the request itself was cancelled
            self._abandon(task)
            raise
        finally:
            self._depth -= 1
            self._left -= loop.time() - started
        if task not in done:
            self._abandon(task)
            raise self._timeout()
        try:
            return task.result()
        except (TimeoutError, PoolTimeout) as exc:  # a driver's or the pool's own timeout
            raise self._timeout() from exc

    def _timeout(self) -> DatabaseTimeout:
        return DatabaseTimeout(
            f"the database did not answer within {self.budget:g} s; try again shortly",
            headers={"Retry-After": "5"},
        )

    def _abandon(self, task: asyncio.Future[Any]) -> None:
        """Stop waiting for ``task``; once it ends, drop the session's connections.

        It is not cancelled: drivers stop a statement each their own way (aiosqlite cannot
        at all), and their own timeouts end it; a commit already on its way may still land,
        as after any lost reply, but nothing of the session is committed after this.
        """
        self.timed_out = True
        cleanup = asyncio.ensure_future(self._wind_down(task))
        _WINDING_DOWN.add(cleanup)
        cleanup.add_done_callback(_WINDING_DOWN.discard)

    async def _wind_down(self, task: asyncio.Future[Any]) -> None:
        with contextlib.suppress(Exception):
            await task
        try:
            await AsyncSession.invalidate(self)
        except Exception as exc:  # the connections are gone either way
            log.debug("invalidating a timed-out session: %r", exc)

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self._check_writes(statement)
        return await self._retried(partial(AsyncSession.execute, self, statement, *args, **kwargs))

    async def scalar(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self._check_writes(statement)
        return await self._retried(partial(AsyncSession.scalar, self, statement, *args, **kwargs))

    async def scalars(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self._check_writes(statement)
        return await self._retried(partial(AsyncSession.scalars, self, statement, *args, **kwargs))

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await self._retried(partial(AsyncSession.get, self, *args, **kwargs))

    async def get_one(self, *args: Any, **kwargs: Any) -> Any:
        return await self._retried(partial(AsyncSession.get_one, self, *args, **kwargs))

    async def stream(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self._check_writes(statement)
        return await self._retried(partial(AsyncSession.stream, self, statement, *args, **kwargs))

    async def stream_scalars(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self._check_writes(statement)
        return await self._retried(
            partial(AsyncSession.stream_scalars, self, statement, *args, **kwargs)
        )

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        self._check_flush()
        await self._bounded(super().flush(*args, **kwargs))

    async def refresh(self, *args: Any, **kwargs: Any) -> None:
        await self._bounded(super().refresh(*args, **kwargs))

    async def merge(self, *args: Any, **kwargs: Any) -> Any:
        return await self._bounded(super().merge(*args, **kwargs))

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        await self._bounded(super().delete(*args, **kwargs))

    async def connection(self, *args: Any, **kwargs: Any) -> Any:
        return await self._bounded(super().connection(*args, **kwargs))

    async def run_sync(self, *args: Any, **kwargs: Any) -> Any:
        return await self._bounded(super().run_sync(*args, **kwargs))

    async def commit(self) -> None:
        self._check_flush()
        await self._bounded(super().commit())
        self._statements = 0  # the next transaction's first statement may be tried again

    async def rollback(self) -> None:
        if self.timed_out:
            return  # its connections are dropped as it winds down: the server rolls back
        if self._left is not None and self._left < ROLLBACK_S:
            self._left = ROLLBACK_S  # a rollback after a spent budget still gets a moment
        try:
            await self._bounded(super().rollback())
        except DatabaseTimeout:
            log.warning("a rollback timed out; the session's connections are dropped")
        self._statements = 0

    async def close(self) -> None:
        if not self.timed_out:  # a timed-out session is closed as it winds down
            await super().close()


_WINDING_DOWN: set[asyncio.Future[None]] = set()  # keeps the wind-down tasks referenced


def create_sessionmaker(
    engine: AsyncEngine, *, timeout: float | None = None, read_only: bool = False
) -> async_sessionmaker[AsyncSession]:
    """Sessions of ``engine``; with ``timeout``, each session's database work is bounded by it
    (see ``BoundedSession``: the API's requests answer 503 instead of hanging), and
    ``read_only`` sessions refuse to write."""
    if timeout is None and not read_only:
        return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    return async_sessionmaker(
        engine,
        class_=BoundedSession,
        expire_on_commit=False,
        autoflush=False,
        budget=timeout,
        read_only=read_only,
    )


def autocommit_engine(engine: AsyncEngine, *, behind_bouncer: bool = False) -> AsyncEngine:
    """``engine``'s pool in autocommit: no ``BEGIN``/``COMMIT`` round trips, each statement
    its own transaction (for reads that need no snapshot across statements: PostgreSQL's
    READ COMMITTED gives each statement its own snapshot anyway).

    ``engine`` itself where that cannot be: SQLite takes its write lock up front in every
    transaction (``_sqlite_begin_immediate``), and asyncpg prepares each statement in a
    round trip of its own, which PgBouncer in transaction pooling mode may send to another
    server connection than its execution unless a transaction holds them together.
    """
    if engine.dialect.name == "sqlite" or (behind_bouncer and engine.dialect.driver == "asyncpg"):
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A unit of work at the edge: commit on success, roll back on error."""
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
