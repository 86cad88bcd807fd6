"""Per-user request limits: one user's flood is answered 429 with Retry-After and costs other
users nothing; reads and writes have budgets of their own; gateway processes share them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from shared.ratelimit import InMemoryRateLimiter, RedisRateLimiter
from shared.redis_client import create_redis
from tests.api_gateway.conftest import Api, build_api, settings_for
from tests.servers import free_port

R = "/api/v1"


@pytest.fixture
async def limited(request, tmp_path) -> AsyncIterator[Api]:
    settings = settings_for(
        "sqlite",
        request,
        tmp_path,
        rate_limit_reads_per_second=0.1,  # slow refills: the counts below are exact
        rate_limit_read_burst=5,
        rate_limit_writes_per_second=0.1,
        rate_limit_write_burst=3,
    )
    async for api in build_api(settings):
        yield api


async def test_reads_beyond_a_users_burst_get_429_with_retry_after(limited: Api):
    trader = await limited.trader()

    codes = [
        (await limited.client.get(f"{R}/users/me", headers=trader.headers)).status_code
        for _ in range(5)
    ]
    refused = await limited.client.get(f"{R}/users/me", headers=trader.headers)

    assert codes == [200] * 5
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited" and "reads" in refused.json()["message"]
    assert int(refused.headers["retry-after"]) >= 1


async def test_one_users_flood_costs_another_user_nothing(limited: Api):
    greedy, other = await limited.trader(), await limited.trader()

    flood = await asyncio.gather(
        *(limited.client.get(f"{R}/users/me", headers=greedy.headers) for _ in range(40))
    )
    theirs = await limited.client.get(f"{R}/users/me", headers=other.headers)

    assert sum(r.status_code == 200 for r in flood) == 5
    assert {r.status_code for r in flood} == {200, 429}
    assert theirs.status_code == 200


async def test_reads_and_writes_have_budgets_of_their_own(limited: Api):
    trader = await limited.trader()
    for _ in range(6):
        await limited.client.get(f"{R}/users/me", headers=trader.headers)

    writes = [
        (
            await limited.client.post(
                f"{R}/broker-accounts", headers=trader.headers, json={"label": f"a{i}"}
            )
        ).status_code
        for i in range(4)
    ]

    assert writes == [201, 201, 201, 429]


async def test_requests_without_a_valid_token_are_left_to_their_routes(limited: Api):
    codes = {
        (
            await limited.client.get(f"{R}/users/me", headers={"Authorization": "Bearer forged"})
        ).status_code
        for _ in range(10)
    }

    assert codes == {401}


def test_the_budget_refills_at_the_rate():
    limiter = InMemoryRateLimiter()
    burst = [limiter.take("u", rate=2, burst=3, now=100.0) for _ in range(4)]

    assert burst[:3] == [0.0, 0.0, 0.0] and burst[3] == pytest.approx(0.5)
    assert limiter.take("u", rate=2, burst=3, now=100.5) == 0.0  # one more after 1/rate
    assert limiter.take("u", rate=2, burst=3, now=100.5) == pytest.approx(0.5)
    assert limiter.take("other", rate=2, burst=3, now=100.5) == 0.0


async def test_while_redis_is_away_limits_hold_in_process():
    limiter = RedisRateLimiter(create_redis(host="127.0.0.1", port=free_port(), retries=0))

    waits = [await limiter.acquire("u:reads", rate=1, burst=2) for _ in range(3)]

    assert waits[:2] == [0.0, 0.0] and waits[2] > 0
    await limiter.close()


@pytest.mark.service
async def test_gateway_processes_share_each_users_budget_through_redis(
    request, tmp_path, redis_server
):
    settings = settings_for(
        "sqlite", request, tmp_path, rate_limit_reads_per_second=0.1, rate_limit_read_burst=4
    )
    async for api in build_api(settings):
        trader = await api.trader()
        clients = []
        for _ in range(2):  # two gateway processes, one Redis
            redis = create_redis(host=redis_server.host, port=redis_server.port)
            ctx = GatewayContext.build(settings, rate_limiter=RedisRateLimiter(redis))
            transport = httpx.ASGITransport(app=create_app(ctx, dispose_engine=False))
            clients.append((ctx, httpx.AsyncClient(transport=transport, base_url="http://t")))

        codes = [
            (await client.get(f"{R}/users/me", headers=trader.headers)).status_code
            for _, client in clients * 3
        ]

        assert codes == [200, 200, 200, 200, 429, 429]
        for ctx, client in clients:
            await client.aclose()
            assert ctx.rate_limiter is not None
            await ctx.rate_limiter.close()
            await ctx.engine.dispose()
