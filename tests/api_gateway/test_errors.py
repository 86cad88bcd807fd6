"""Every error is answered in the error shape and keeps the connection: an unexpected error is
a 500, a dependency that fails or does not answer in time a 503, an id beyond 64 bits a 422."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import APIRouter

from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from tests.api_gateway.conftest import Api, build_api, settings_for

R = "/api/v1"
BEYOND_64_BITS = 2**63

failing = APIRouter()


@failing.get("/boom")
async def boom() -> None:
    raise RuntimeError("a bug")


@failing.get("/slow-dependency")
async def slow_dependency() -> None:
    raise TimeoutError  # e.g. a driver's own timeout, outside any handler


@pytest.fixture
async def failing_app(request, tmp_path) -> AsyncIterator[GatewayContext]:
    from algotrade.migrate import upgrade

    settings = settings_for("sqlite", request, tmp_path)
    await asyncio.to_thread(upgrade, settings.migration_url)
    ctx = GatewayContext.build(settings)
    yield ctx
    await ctx.engine.dispose()


async def test_an_unexpected_error_is_a_500_in_the_error_shape_and_never_reaches_the_server(
    failing_app,
):
    app = create_app(failing_app, extra_routers=[failing])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)  # as a server sees it
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get(f"{R}/boom")

    assert r.status_code == 500
    assert r.json() == {"code": "internal_error", "message": "internal error", "details": []}
    assert r.headers["x-content-type-options"] == "nosniff"  # the other middleware still ran


async def test_a_timeout_nothing_handled_is_a_503_and_never_reaches_the_server(failing_app):
    app = create_app(failing_app, extra_routers=[failing])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get(f"{R}/slow-dependency")

    assert r.status_code == 503
    assert r.json()["code"] == "service_unavailable" and r.headers["retry-after"] == "5"


async def _exchange(reader, writer, path: str) -> tuple[int, bytes]:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return status, await asyncio.wait_for(reader.readexactly(length), 5)


async def test_the_connection_stays_open_after_a_500_and_a_503(failing_app):
    app = create_app(failing_app, extra_routers=[failing])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        first = await _exchange(reader, writer, f"{R}/boom")
        second = await _exchange(reader, writer, f"{R}/slow-dependency")
        third = await _exchange(reader, writer, "/health")  # the same connection, still open
    finally:
        writer.close()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)

    assert [first[0], second[0], third[0]] == [500, 503, 200]


async def test_ids_beyond_64_bits_are_refused_with_422_not_a_server_error(sqlite_api: Api):
    api = sqlite_api
    trader, admin = await api.trader(), await api.admin()

    paths = [
        (trader, "GET", f"{R}/broker-accounts/{BEYOND_64_BITS}"),
        (trader, "PATCH", f"{R}/broker-accounts/{BEYOND_64_BITS}"),
        (trader, "DELETE", f"{R}/broker-accounts/{BEYOND_64_BITS}"),
        (trader, "POST", f"{R}/broker-accounts/{BEYOND_64_BITS}/close"),
        (admin, "GET", f"{R}/admin/users/{BEYOND_64_BITS}"),
        (admin, "POST", f"{R}/admin/users/{BEYOND_64_BITS}/disable"),
        (admin, "POST", f"{R}/admin/users/{BEYOND_64_BITS}/enable"),
        (admin, "GET", f"{R}/admin/audit?actor_id={BEYOND_64_BITS}"),
    ]
    for who, method, path in paths:
        body = {"label": "x"} if method == "PATCH" else None
        r = await api.client.request(method, path, headers=who.headers, json=body)
        assert r.status_code == 422, (method, path, r.status_code, r.text)
        assert r.json()["code"] == "validation_error"
    largest = await api.client.get(f"{R}/admin/users/{BEYOND_64_BITS - 1}", headers=admin.headers)
    assert largest.status_code == 404


async def test_a_database_that_does_not_answer_is_a_503_within_the_timeout(request, tmp_path):
    settings = settings_for("sqlite", request, tmp_path, api_db_timeout_seconds=1.0)
    async for api in build_api(settings):
        trader = await api.trader()
        holder = sqlite3.connect(tmp_path / "algotrade.db", timeout=0, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the file for a long time
        try:
            started = time.monotonic()
            r = await api.client.post(
                f"{R}/broker-accounts", headers=trader.headers, json={"label": "late"}
            )
            elapsed = time.monotonic() - started
        finally:
            holder.execute("ROLLBACK")
            holder.close()

        assert r.status_code == 503, r.text
        assert r.json()["code"] == "service_unavailable" and r.headers["retry-after"] == "5"
        assert elapsed < 3
        again = await api.client.post(
            f"{R}/broker-accounts", headers=trader.headers, json={"label": "on time"}
        )
        assert again.status_code == 201, again.text
