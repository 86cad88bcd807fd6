"""Reads on PostgreSQL: the session check and the route's queries only (no ping, no BEGIN, no
COMMIT), read-only sessions, and pooled connections found dead tried once more."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import event, func, select

from algotrade.migrate import upgrade
from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from api_gateway.deps import CurrentUser, UowDep
from shared.models import BrokerAccount
from tests.api_gateway.conftest import Api, settings_for
from tests.servers import PostgresServer

pytestmark = pytest.mark.service
R = "/api/v1"

writer = APIRouter()


@writer.get("/test-writes-on-read")
async def write_on_read(user: CurrentUser, uow: UowDep) -> dict[str, str]:
    """A read route that writes: the read-only session must refuse it."""
    uow.session.add(BrokerAccount(user_id=user.id, label="sneaky", broker="paper"))
    await uow.session.flush()
    return {"wrote": "yes"}


class Statements:
    """What the gateway's connections send PostgreSQL: the queries (SQLAlchemy's events),
    and what asyncpg sends outside prepared statements (its query log: BEGIN, COMMIT,
    ROLLBACK, the pool's ping)."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.queries: list[str] = []
        self.control: list[str] = []

        def on_connect(dbapi_connection: object, _record: object) -> None:
            raw = dbapi_connection._connection  # type: ignore[attr-defined]  # asyncpg's
            raw.add_query_logger(lambda r: self.control.append(r.query.strip(" ;").upper()))

        def on_execute(*args: object) -> None:
            self.queries.append(str(args[2]).split()[0].upper())

        event.listen(ctx.engine.sync_engine, "connect", on_connect)
        event.listen(ctx.engine.sync_engine, "before_cursor_execute", on_execute)

    def clear(self) -> None:
        self.queries.clear()
        self.control.clear()


@pytest.fixture
async def pg_api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    settings = settings_for("postgres", request, tmp_path)
    await asyncio.to_thread(upgrade, settings.migration_url)
    ctx = GatewayContext.build(settings)
    app = create_app(ctx, extra_routers=[writer])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Api(app, ctx, client)
    await ctx.engine.dispose()


async def test_a_signed_in_read_sends_only_its_queries_and_a_write_one_transaction(
    pg_api: Api,
) -> None:
    api = pg_api
    trader = await api.trader()
    await api.ctx.engine.dispose()  # new connections, each with the statement log
    log = Statements(api.ctx)
    await api.client.get(f"{R}/broker-accounts", headers=trader.headers)  # connects
    log.clear()

    read = await api.client.get(f"{R}/broker-accounts", headers=trader.headers)
    read_queries, read_control = list(log.queries), list(log.control)
    log.clear()
    write = await api.client.post(
        f"{R}/broker-accounts", headers=trader.headers, json={"label": "main"}
    )

    assert read.status_code == 200 and write.status_code == 201
    assert read_control == []  # no ping, no BEGIN, no COMMIT
    assert read_queries == ["SELECT"] * len(read_queries) and len(read_queries) <= 3
    assert log.control[0].startswith("BEGIN") and log.control[-1] == "COMMIT"
    assert "INSERT" in log.queries


async def test_a_read_route_that_writes_is_refused_and_writes_nothing(pg_api: Api) -> None:
    api = pg_api
    trader = await api.trader()

    r = await api.client.get(f"{R}/test-writes-on-read", headers=trader.headers)

    async with api.ctx.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(BrokerAccount))
    assert r.status_code == 500 and count == 0


async def test_requests_succeed_after_the_server_dropped_their_pooled_connection(
    pg_api: Api, postgres_server: PostgresServer
) -> None:
    """No ping on checkout: a first statement that finds its connection dead is tried again
    once, on a fresh connection."""
    api = pg_api
    trader = await api.trader()
    database = api.ctx.engine.url.database
    assert not api.ctx.engine.pool._pre_ping  # type: ignore[attr-defined]

    async def dropped_pool() -> None:
        await api.ctx.engine.dispose()
        warm = await api.client.get(f"{R}/broker-accounts", headers=trader.headers)
        assert warm.status_code == 200  # the pool holds one connection, alive
        postgres_server.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()",
            db=database,
        )
        await asyncio.sleep(0.2)  # the server has closed it

    await dropped_pool()
    read = await api.client.get(f"{R}/broker-accounts", headers=trader.headers)
    await dropped_pool()
    write = await api.client.post(
        f"{R}/broker-accounts", headers=trader.headers, json={"label": "after"}
    )

    assert read.status_code == 200, read.text
    assert write.status_code == 201, write.text
