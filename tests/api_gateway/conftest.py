"""The gateway under test, on SQLite (embedded), PostgreSQL, and PostgreSQL through PgBouncer."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from algotrade.admin import ensure_admin
from algotrade.migrate import upgrade
from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from shared.config import Settings
from tests.api_gateway.factories import PASSWORD, Trader, login, make_trader

_db_seq = itertools.count(1)
TEST_JWT_SECRET = secrets.token_urlsafe(48)
TEST_FERNET_KEY = Fernet.generate_key().decode()
BACKENDS = ["sqlite", "postgres", "pgbouncer"]


def settings_for(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, **overrides: object
) -> Settings:
    base: dict[str, object] = {
        "environment": "test",
        "max_login_attempts": 3,
        "_env_file": None,
        "jwt_secret": TEST_JWT_SECRET,
        "secrets_encryption_keys": [TEST_FERNET_KEY],
    }
    if backend == "sqlite":
        base.update(profile="embedded", data_dir=tmp_path)
    else:
        pg = request.getfixturevalue("postgres_server")
        name = f"gw_{next(_db_seq)}"
        pg.create_database(name)
        base.update(
            profile="distributed",
            db_host=pg.host,
            db_port=pg.port,
            db_name=name,
            db_user=pg.user,
            db_pool_size=5,
            db_max_overflow=5,
        )
        if backend == "pgbouncer":
            bouncer = request.getfixturevalue("pgbouncer_server")
            base.update(use_pgbouncer=True, pgbouncer_host="127.0.0.1", pgbouncer_port=bouncer.port)
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


class Api:
    """An app, its settings and a client; helpers to make users."""

    def __init__(self, app, ctx: GatewayContext, client: httpx.AsyncClient) -> None:
        self.app = app
        self.ctx = ctx
        self.client = client

    async def trader(self) -> Trader:
        return await make_trader(self.client)

    async def admin(self) -> Trader:
        email = f"admin{next(_db_seq)}@example.com"
        await ensure_admin(self.ctx.settings, email, PASSWORD, "Admin")
        tokens = await login(self.client, email)
        me = await self.client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        return Trader(me.json()["id"], email, tokens["access_token"], tokens["refresh_token"])


async def build_api(settings: Settings) -> AsyncIterator[Api]:
    await asyncio.to_thread(upgrade, settings.migration_url)
    ctx = GatewayContext.build(settings)
    app = create_app(ctx)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Api(app, ctx, client)
    await ctx.engine.dispose()


@pytest.fixture(params=BACKENDS)
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """The gateway on each backend; PostgreSQL-backed variants are service tests."""
    settings = settings_for(request.param, request, tmp_path)
    async for built in build_api(settings):
        yield built


@pytest.fixture
async def sqlite_api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """The gateway on SQLite only, for behaviour that does not depend on the database."""
    async for built in build_api(settings_for("sqlite", request, tmp_path)):
        yield built


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec and callspec.params.get("api") in ("postgres", "pgbouncer"):
            item.add_marker(pytest.mark.service)
