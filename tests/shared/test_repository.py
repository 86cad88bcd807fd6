"""Pages of a user's rows: the total is counted only when the page cannot tell it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from shared.db import create_sessionmaker
from shared.models import BrokerAccount, User
from shared.models.base import Base
from shared.repository import UserScopedRepository


class Accounts(UserScopedRepository[BrokerAccount]):
    model = BrokerAccount


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[tuple[AsyncSession, list[str]]]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'pages.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    statements: list[str] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda *args: statements.append(str(args[2]).split()[0].upper()),
    )
    async with create_sessionmaker(engine)() as s:
        s.add(User(id=1, email="a@example.com", password_hash="x"))
        s.add(User(id=2, email="b@example.com", password_hash="x"))
        for n in range(5):
            s.add(BrokerAccount(user_id=1, broker="paper", label=f"a{n}",
                                starting_capital=Decimal(1000), currency="INR"))  # fmt: skip
        s.add(BrokerAccount(user_id=2, broker="paper", label="other",
                            starting_capital=Decimal(1000), currency="INR"))  # fmt: skip
        await s.commit()
        statements.clear()
        yield s, statements
    await engine.dispose()


@pytest.mark.parametrize(
    ("limit", "offset", "items", "counted"),
    [
        (10, 0, 5, False),  # one page holds them all
        (3, 3, 2, False),  # the last page, not full
        (3, 0, 3, True),  # a full page: more may follow
        (5, 0, 5, True),  # full, exactly at the end
        (3, 9, 0, True),  # past the end: the page cannot tell
    ],
)
async def test_a_page_counts_the_total_only_when_it_cannot_tell_it(
    session: tuple[AsyncSession, list[str]], limit: int, offset: int, items: int, counted: bool
) -> None:
    s, statements = session

    page = await Accounts(s, 1).list(limit, offset)

    assert len(page.items) == items and page.total == 5
    assert len(statements) == (2 if counted else 1)
