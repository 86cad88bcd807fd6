"""Batch statements: the same rows as a plain ``IN``, and on PostgreSQL one statement text
whatever the number of values (so a batch path does not prepare a statement per size)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.batch_sql import next_ids, on_postgres, one_of, pair_of
from shared.db import create_engine, create_sessionmaker, transaction
from shared.models import User
from tests.api_gateway.conftest import settings_for


async def _migrated(request, tmp_path_factory) -> AsyncEngine:
    """An engine on a migrated database of the kind the fixture is parametrised with."""
    from algotrade.migrate import upgrade

    settings = settings_for(request.param, request, tmp_path_factory.mktemp("batch_sql"))
    await asyncio.to_thread(upgrade, settings.migration_url)
    return create_engine(settings)


@pytest.fixture(scope="module", params=["sqlite", "postgres", "pgbouncer"])
async def world(request, tmp_path_factory):
    engine = await _migrated(request, tmp_path_factory)
    sessions = create_sessionmaker(engine)
    async with transaction(sessions) as session:
        users = [User(email=f"set{i}@example.com", password_hash="-") for i in range(60)]
        session.add_all(users)
        await session.flush()
        ids = [u.id for u in users]
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    yield sessions, ids, statements
    event.remove(engine.sync_engine, "before_cursor_execute", seen)
    await engine.dispose()


async def test_one_of_reads_the_rows_of_the_values_with_one_text_on_postgres(world):
    sessions, ids, statements = world
    texts = set()
    async with sessions() as session:
        for size in (1, 7, 50):
            wanted = ids[:size]
            statements.clear()
            found = await session.scalars(select(User.id).where(one_of(session, User.id, wanted)))
            assert sorted(found.all()) == sorted(wanted)
            texts.add(statements[-1])
        postgres = on_postgres(session)
        none = await session.scalars(select(User.id).where(one_of(session, User.id, [])))
        assert none.all() == []
    assert (len(texts) == 1) is postgres


async def test_pair_of_matches_both_columns_with_one_text_on_postgres(world):
    sessions, ids, statements = world
    texts = set()
    async with sessions() as session:
        rows = (await session.execute(select(User.id, User.email).where(User.id.in_(ids)))).all()
        emails = dict(rows)
        for size in (1, 9, 40):
            pairs = [(i, emails[i]) for i in ids[:size]]
            pairs.append((ids[0], "someone-else@example.com"))  # a wrong pair matches nothing
            statements.clear()
            found = await session.scalars(
                select(User.id).where(pair_of(session, (User.id, User.email), pairs))
            )
            assert sorted(found.all()) == sorted(ids[:size])
            texts.add(statements[-1])
        postgres = on_postgres(session)
    assert (len(texts) == 1) is postgres


async def test_ids_taken_first_are_new_and_rows_inserted_later_get_higher_ones(world):
    # On SQLite the ids come from the AUTOINCREMENT counter, moved past them under the
    # transaction's write lock: an account made afterwards the usual way (an insert that
    # numbers it) must not collide with them or reuse one.
    sessions, ids, _ = world
    async with transaction(sessions) as session:
        taken = await next_ids(session, "users", 4)
        assert taken == list(range(taken[0], taken[0] + 4)) and taken[0] > max(ids)
        for i in taken:
            session.add(User(id=i, email=f"taken{i}@example.com", password_hash="-"))
        await session.flush()
    async with transaction(sessions) as session:
        reserved = await next_ids(session, "users", 3)  # taken, never used
    async with transaction(sessions) as session:
        later = User(email="later@example.com", password_hash="-")
        session.add(later)
        await session.flush()
        assert later.id > max(reserved) > max(taken)
        assert await next_ids(session, "users", 0) == []
        with pytest.raises(ValueError, match="order_partitions"):  # no counted ids
            await next_ids(session, "order_partitions", 1)


@pytest.fixture(scope="module", params=["postgres", "pgbouncer"])
async def postgres_sessions(request, tmp_path_factory):
    engine = await _migrated(request, tmp_path_factory)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_next_ids_are_new_distinct_and_ascending(postgres_sessions):
    async with postgres_sessions() as session, session.begin():
        first = await next_ids(session, "fills", 5)
        second = await next_ids(session, "fills", 3)
        assert await next_ids(session, "fills", 0) == []
    async with postgres_sessions() as session:
        third = await next_ids(session, "fills", 2)  # outside a transaction: the session
    assert len(set(first + second + third)) == 10
    assert first == sorted(first) and second == sorted(second)
    assert min(second) > max(first) and min(third) > max(second)
    assert all(type(i) is int for i in first + third)


async def test_batch_writes_and_reads_keep_money_times_and_json_on_every_backend(world):
    """``insert_rows``, ``execute_many`` and ``fetch_rows``: on asyncpg straight through the
    driver (announced to the statement listeners, without an execution context), elsewhere
    and where SQLAlchemy computes a value (``onupdate``) through the session; the values
    come back the same either way."""
    from datetime import UTC, datetime, timedelta, timezone
    from decimal import Decimal
    from typing import cast

    from sqlalchemy import Table, bindparam, update

    from shared.batch_sql import driver_connection, execute_many, fetch_rows, insert_rows
    from shared.models import BrokerAccount, LedgerEntry, UserPreferences

    sessions, ids, _ = world
    engine = sessions.kw["bind"].sync_engine
    sent: list[tuple[str, bool]] = []  # (statement's first word, through the driver)

    def seen(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement.split()[0], context is None))

    ist = timezone(timedelta(hours=5, minutes=30))
    amounts = [Decimal("-1.23456789"), Decimal("0"), Decimal("1E+3"), Decimal("42.5")]
    ledger = cast(Table, LedgerEntry.__table__)
    prefs = cast(Table, UserPreferences.__table__)
    async with transaction(sessions) as session:
        postgres = on_postgres(session)
        assert await driver_connection(session) is None  # nothing begun yet: no driver path
        account = BrokerAccount(
            user_id=ids[0], broker="paper", label="sql", currency="USDT",
            starting_capital=Decimal(1000),
        )  # fmt: skip
        session.add(account)
        await session.flush()
        assert (await driver_connection(session) is not None) is postgres
        event.listen(engine, "before_cursor_execute", seen)
        try:
            await insert_rows(
                session,
                ledger,
                [
                    {"user_id": ids[0], "broker_account_id": account.id, "kind": "charge",
                     "amount": amount, "ts": datetime(2026, 12, 7, 9, 15, n, tzinfo=ist),
                     "description": f"entry {n}"}
                    for n, amount in enumerate(amounts)
                ],
            )  # fmt: skip
            shared = {"density": "compact"}  # one object for two rows: written once
            await insert_rows(
                session,
                prefs,
                [
                    {"user_id": i, "watchlist": ["BTCUSDT", f"S{i}"], "symbol": None,
                     "theme": "dark", "updated_at": datetime(2026, 12, 7, tzinfo=UTC),
                     "layout": shared if i != ids[1] else {"density": "roomy", "n": i}}
                    for i in ids[:3]
                ],
            )  # fmt: skip
            await execute_many(
                session,
                "test.ledger_describe",
                update(ledger)
                .where(ledger.c.description == bindparam("was"))
                .values(description=bindparam("now")),
                [{"was": "entry 0", "now": "first"}, {"was": "entry 3", "now": "last"}],
            )
            await execute_many(  # ``updated_at`` has an onupdate: through the session
                session,
                "test.prefs_theme",
                update(prefs)
                .where(prefs.c.user_id == bindparam("who"))
                .values(theme=bindparam("t")),
                [{"who": ids[0], "t": "light"}, {"who": ids[1], "t": "system"}],
            )
            read = select(ledger.c.amount, ledger.c.ts, ledger.c.description).where(
                ledger.c.broker_account_id == bindparam("account")
            )
            rows = await fetch_rows(
                session, "test.ledger", read.order_by(ledger.c.id), {"account": account.id}
            )
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert [r["amount"] for r in rows] == amounts
    assert all(isinstance(r["amount"], Decimal) for r in rows)
    assert [r["ts"] for r in rows] == [
        datetime(2026, 12, 7, 3, 45, n, tzinfo=UTC) for n in range(4)
    ]
    assert all(r["ts"].tzinfo is UTC for r in rows)
    assert [r["description"] for r in rows] == ["first", "entry 1", "entry 2", "last"]
    async with sessions() as session:
        stored = (
            await session.scalars(
                select(UserPreferences).where(UserPreferences.user_id.in_(ids[:3]))
                .order_by(UserPreferences.user_id)
            )
        ).all()  # fmt: skip
    layouts = [{"density": "compact"}, {"density": "roomy", "n": ids[1]}, {"density": "compact"}]
    assert [(p.watchlist, p.layout, p.theme) for p in stored] == [
        (["BTCUSDT", f"S{i}"], layout, theme)
        for i, layout, theme in zip(ids[:3], layouts, ["light", "system", "dark"], strict=True)
    ]
    assert stored[0].updated_at > datetime(2026, 12, 7, tzinfo=UTC)  # the onupdate ran
    # Every statement was announced; on asyncpg all but the onupdate went through the driver.
    assert sent == [
        ("INSERT", postgres), ("INSERT", postgres), ("UPDATE", postgres), ("UPDATE", False),
        ("SELECT", postgres),
    ]  # fmt: skip
