"""``/ready`` of the API and of the WebSocket service: every dependency, and which one failed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from algotrade.migrate import upgrade
from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from shared.bus import create_event_bus
from shared.clock import SystemClock
from shared.security.jwt import JWTKeys
from tests.api_gateway.conftest import settings_for
from tests.servers import InfluxServer, RedisServer
from websocket_service.app import create_ws_app
from websocket_service.endpoint import WsContext
from websocket_service.hub import Hub

pytestmark = pytest.mark.service


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def own_influx() -> Iterator[InfluxServer]:
    with InfluxServer() as server:
        yield server


@pytest.fixture
def settings(request, tmp_path, own_redis, own_influx):
    settings = settings_for(
        "postgres",
        request,
        tmp_path,
        redis_host=own_redis.host,
        redis_port=own_redis.port,
        influx_url=own_influx.url,
        ready_timeout_seconds=1.0,
    )
    upgrade(settings.migration_url)
    return settings


async def test_api_ready_checks_database_redis_and_influxdb(settings, own_redis, own_influx):
    bus = create_event_bus(settings)
    app = create_app(GatewayContext.build(settings, bus=bus, rate_limiter=None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        up = await client.get("/ready")
        own_influx.stop()
        no_influx = await client.get("/ready")
        own_redis.stop()
        neither = await asyncio.wait_for(client.get("/ready"), 10)
        alive = await client.get("/health")
    await bus.close()

    assert up.status_code == 200, up.text
    assert up.json()["checks"] == {"database": "ok", "redis": "ok", "influxdb": "ok"}
    assert no_influx.status_code == 503
    assert no_influx.json()["failed"] == ["influxdb"]
    assert neither.status_code == 503
    assert neither.json()["failed"] == ["redis", "influxdb"]
    assert alive.status_code == 200


async def test_websocket_service_ready_checks_database_and_redis(settings, own_redis):
    bus = create_event_bus(settings)
    ctx = GatewayContext.build(settings)
    ws = WsContext(sessions=ctx.sessions, jwt=JWTKeys(settings), clock=SystemClock(), hub=Hub(bus))
    app = create_ws_app(ws, owns_hub=False, ready_timeout_s=1.0)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ws") as client:
        up = await client.get("/ready")
        own_redis.stop()
        down = await client.get("/ready")
        scrape = await client.get("/metrics")
    await bus.close()
    await ctx.engine.dispose()

    assert up.status_code == 200, up.text
    assert up.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert down.status_code == 503
    assert down.json()["failed"] == ["redis"]
    assert "algotrade_ws_connections" in scrape.text
    assert 'route="/ready",service="websocket",status="503"' in scrape.text
