"""Money and UTC time columns read back exact and in UTC on every backend; on asyncpg,
which reads NUMERIC as Decimal and TIMESTAMPTZ as UTC itself, without a call per value."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from shared.db import create_engine, create_sessionmaker, transaction
from shared.models import BrokerAccount, User
from shared.models.base import Money, UTCDateTime
from tests.api_gateway.conftest import settings_for

IST = timezone(timedelta(hours=5, minutes=30))
CAPITALS = [Decimal("100.5"), Decimal("0"), Decimal("-12.34567891"), Decimal("1E+3")]
CREATED = [
    datetime(2026, 1, 1, 5, 30, tzinfo=IST),
    datetime(2026, 6, 30, 23, 59, 59, 123456, tzinfo=UTC),
    datetime(2026, 3, 1, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2026, 12, 7, 9, 15, tzinfo=UTC),
]


@pytest.fixture(scope="module", params=["sqlite", "postgres", "pgbouncer"])
async def engine(request, tmp_path_factory):
    from algotrade.migrate import upgrade

    settings = settings_for(request.param, request, tmp_path_factory.mktemp("column_types"))
    await asyncio.to_thread(upgrade, settings.migration_url)
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


async def test_money_and_times_read_back_exact_and_in_utc(engine):
    sessions = create_sessionmaker(engine)
    async with transaction(sessions) as session:
        if engine.dialect.name == "postgresql":  # a session in another zone reads UTC all the same
            await session.execute(text("SET TIME ZONE 'Asia/Kolkata'"))
        user = User(email="types@example.com", password_hash="-")
        session.add(user)
        await session.flush()
        for capital, created in zip(CAPITALS, CREATED, strict=True):
            session.add(
                BrokerAccount(
                    user_id=user.id, broker="paper", label=str(capital), currency="USDT",
                    starting_capital=capital, created_at=created,
                )
            )  # fmt: skip
    async with sessions() as session:
        if engine.dialect.name == "postgresql":
            await session.execute(text("SET TIME ZONE 'Asia/Kolkata'"))
        rows = (
            await session.execute(
                select(BrokerAccount.starting_capital, BrokerAccount.created_at).order_by(
                    BrokerAccount.id
                )
            )
        ).all()
    for (capital, created), want_capital, want_created in zip(rows, CAPITALS, CREATED, strict=True):
        assert isinstance(capital, Decimal) and capital == want_capital
        assert created.tzinfo is UTC and created == want_created


def test_asyncpg_reads_money_and_times_without_a_call_per_value(engine):
    dialect = engine.dialect
    numeric, timestamptz = 1700, 1184  # the PostgreSQL type ids of the columns
    money = Money().dialect_impl(dialect).result_processor(dialect, numeric)
    times = UTCDateTime().dialect_impl(dialect).result_processor(dialect, timestamptz)
    if dialect.driver == "asyncpg":
        assert money is None and times is None
    else:  # SQLite stores text and naive times: each value is made a Decimal, a UTC time
        assert money is not None and times is not None
