"""Database engine and session factories for SQLite, PostgreSQL and PostgreSQL behind PgBouncer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from shared.config import Settings


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    """An async engine for ``url`` (default: the services' URL from settings).

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
            pool_pre_ping=settings.db_pool_pre_ping,
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


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


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
