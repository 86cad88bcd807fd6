"""An alerts database: migrated SQLite (embedded) or PostgreSQL, with two traders."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from algotrade.migrate import upgrade
from shared.config import Settings
from shared.db import create_engine, create_sessionmaker, transaction
from shared.models import BrokerAccount, User


@dataclass
class Db:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    users: list[int]
    accounts: list[int]


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Db]:
    base: dict[str, object] = {
        "environment": "test",
        "_env_file": None,
        "jwt_secret": secrets.token_urlsafe(48),
        "secrets_encryption_keys": [Fernet.generate_key().decode()],
    }
    if request.param == "sqlite":
        base.update(profile="embedded", data_dir=tmp_path)
    else:
        pg = request.getfixturevalue("postgres_server")
        name = f"alerts_{abs(hash(request.node.nodeid)) % 10**8}"
        pg.create_database(name)
        base.update(
            profile="distributed", db_host=pg.host, db_port=pg.port, db_name=name, db_user=pg.user
        )
    settings = Settings(**base)  # type: ignore[arg-type]
    await asyncio.to_thread(upgrade, settings.migration_url)
    engine = create_engine(settings)
    sessions = create_sessionmaker(engine)
    users, accounts = [], []
    async with transaction(sessions) as session:
        for i in range(2):
            user = User(email=f"t{i}@example.com", password_hash="x", full_name=f"T{i}")
            session.add(user)
            await session.flush()
            account = BrokerAccount(
                user_id=user.id,
                broker="paper",
                label=f"paper-{i}",
                starting_capital=Decimal(50000),
                currency="INR",
            )
            session.add(account)
            await session.flush()
            users.append(user.id)
            accounts.append(account.id)
    yield Db(settings, sessions, users, accounts)
    await engine.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec and callspec.params.get("db") == "postgres":
            item.add_marker(pytest.mark.service)
