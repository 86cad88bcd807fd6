"""Alembic environment: async engine, URL from settings (or ``-x url=...``)."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection

from shared.config import get_settings
from shared.db import create_engine
from shared.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    explicit = context.get_x_argument(as_dictionary=True).get("url")
    configured = config.attributes.get("url")
    return explicit or configured or get_settings().migration_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        before = context.get_context().get_current_heads()
        context.run_migrations()
        migrated = context.get_context().get_current_heads() != before
        if connection.dialect.name == "sqlite" and migrated:
            _check_references(connection)


def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    # SQLite batch migrations rebuild tables (create, copy, drop, rename); with foreign
    # keys enforced, dropping a table others refer to would cascade-delete their rows.
    # The pragma is ignored inside a transaction, so it is set as the connection opens.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def _check_references(connection: Connection) -> None:
    """What enforcement was off for is checked before the commit: no dangling reference."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migrations left broken foreign keys: {broken[:10]}")


async def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    settings = get_settings()
    engine = create_engine(settings, url=_url())
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _foreign_keys_off)  # after create_engine's
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
