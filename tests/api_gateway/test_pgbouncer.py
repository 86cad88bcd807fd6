"""Through PgBouncer in transaction mode: concurrency without prepared-statement errors, and
a paused pool answered with 503 in bounded time instead of a hang."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.api_gateway.conftest import build_api, settings_for
from tests.api_gateway.factories import PASSWORD

pytestmark = pytest.mark.service
R = "/api/v1"


async def test_concurrent_requests_through_a_tiny_pgbouncer_pool(request, tmp_path):
    settings = settings_for("pgbouncer", request, tmp_path, db_pool_size=10, db_max_overflow=10)
    async for api in build_api(settings):
        traders = [await api.trader() for _ in range(4)]

        async def work(i: int) -> list[int]:
            t = traders[i % len(traders)]
            codes = []
            r = await api.client.post(
                f"{R}/broker-accounts", headers=t.headers, json={"label": f"acct-{i}"}
            )
            codes.append(r.status_code)
            codes.append(
                (await api.client.get(f"{R}/broker-accounts", headers=t.headers)).status_code
            )
            codes.append((await api.client.get(f"{R}/users/me", headers=t.headers)).status_code)
            return codes

        results = await asyncio.gather(*[work(i) for i in range(40)])
        flat = [c for codes in results for c in codes]
        assert flat.count(201) == 40
        assert set(flat) == {200, 201}


async def test_paused_pgbouncer_gives_503_within_the_timeout(request, tmp_path, pgbouncer_server):
    settings = settings_for(
        "pgbouncer",
        request,
        tmp_path,
        db_connect_timeout=2,
        db_statement_timeout_ms=2000,
        db_pool_timeout=2,
    )
    async for api in build_api(settings):
        trader = await api.trader()
        await api.ctx.engine.dispose()  # no pooled connection: the next one must connect
        pgbouncer_server.pause()
        try:
            started = time.monotonic()
            r = await api.client.post(
                f"{R}/auth/login", json={"email": trader.email, "password": PASSWORD}
            )
            elapsed = time.monotonic() - started
        finally:
            pgbouncer_server.resume()
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "service_unavailable"
        assert elapsed < 10
        # and it recovers by itself once the pool is back
        again = await api.client.get(f"{R}/users/me", headers=trader.headers)
        assert again.status_code == 200


async def test_psycopg_driver_through_pgbouncer_has_no_prepared_statement_errors(request, tmp_path):
    settings = settings_for("pgbouncer", request, tmp_path, db_driver="psycopg")
    assert settings.sqlalchemy_url.startswith("postgresql+psycopg://")
    async for api in build_api(settings):
        traders = [await api.trader() for _ in range(3)]
        results = await asyncio.gather(
            *[api.client.get(f"{R}/users/me", headers=traders[i % 3].headers) for i in range(60)]
        )
        assert {r.status_code for r in results} == {200}


async def test_paused_pgbouncer_answers_503_within_the_api_db_timeout_whatever_the_driver_limits(
    request, tmp_path, pgbouncer_server
):
    # The drivers' own limits (connect 10 s, statements 15 s, pool 30 s) add up to far more.
    settings = settings_for("pgbouncer", request, tmp_path, api_db_timeout_seconds=2.0)
    async for api in build_api(settings):
        trader = await api.trader()
        pgbouncer_server.pause()
        try:
            started = time.monotonic()
            results = await asyncio.gather(
                api.client.get(f"{R}/users/me", headers=trader.headers),
                api.client.post(
                    f"{R}/broker-accounts", headers=trader.headers, json={"label": "p"}
                ),
            )
            elapsed = time.monotonic() - started
        finally:
            pgbouncer_server.resume()
        assert [r.status_code for r in results] == [503, 503], [r.text for r in results]
        assert all(r.headers["retry-after"] == "5" for r in results)
        assert elapsed < 3.5
        again = await api.client.get(f"{R}/users/me", headers=trader.headers)
        assert again.status_code == 200
