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


@pytest.fixture(scope="module", params=["postgres", "pgbouncer"])
async def postgres_sessions(request, tmp_path_factory):
    engine = await _migrated(request, tmp_path_factory)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_next_ids_are_new_and_distinct(postgres_sessions):
    async with postgres_sessions() as session:
        first = await next_ids(session, "fills", 5)
        second = await next_ids(session, "fills", 3)
    assert len(set(first + second)) == 8
    assert min(second) > max(first)
