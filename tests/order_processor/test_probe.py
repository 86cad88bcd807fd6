"""The order processor's own health and metrics listener (``order_processor.main.serve``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import httpx
import pytest

from algotrade.migrate import upgrade
from order_processor.main import serve
from shared.config import Settings
from tests.servers import InfluxServer, RedisServer, free_port

pytestmark = pytest.mark.service


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def own_influx() -> Iterator[InfluxServer]:
    with InfluxServer() as server:
        yield server


def _settings(pg, db: str, redis: RedisServer, influx: InfluxServer, port: int) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="development",
        profile="distributed",
        db_host=pg.host,
        db_port=pg.port,
        db_name=db,
        db_user=pg.user,
        db_pool_size=2,
        db_max_overflow=2,
        redis_host=redis.host,
        redis_port=redis.port,
        influx_url=influx.url,
        order_processor_probe_port=port,
        ready_timeout_seconds=1.0,
    )


@contextlib.asynccontextmanager
async def running(settings: Settings):
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop))
    base = f"http://127.0.0.1:{settings.order_processor_probe_port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for _ in range(200):  # until the listener is up
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/health")).status_code == 200:
                    break
            await asyncio.sleep(0.05)
        try:
            yield client
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


async def test_ready_names_the_dependency_that_stopped_answering(
    postgres_server, new_database, own_redis, own_influx
):
    db = new_database("probe")
    settings = _settings(postgres_server, db, own_redis, own_influx, free_port())
    await asyncio.to_thread(upgrade, settings.migration_url)
    async with running(settings) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok", "influxdb": "ok"}

        own_redis.stop()
        down = await asyncio.wait_for(client.get("/ready"), 10)  # bounded: no hang
        assert down.status_code == 503
        assert down.json()["failed"] == ["redis"]
        assert (await client.get("/health")).status_code == 200  # alive all the same

        own_influx.stop()
        both = (await client.get("/ready")).json()
        assert both["status"] == "unavailable"
        assert set(both["failed"]) == {"redis", "influxdb"}
        own_redis.start()
        own_influx.start()


async def test_metrics_report_the_intent_streams(
    postgres_server, new_database, own_redis, own_influx
):
    db = new_database("probe_metrics")
    settings = _settings(postgres_server, db, own_redis, own_influx, free_port())
    await asyncio.to_thread(upgrade, settings.migration_url)
    async with running(settings) as client:
        for _ in range(100):  # the consumers create their groups as they start
            text = (await client.get("/metrics")).text
            if "algotrade_stream_consumers{" in text:
                break
            await asyncio.sleep(0.1)
    assert "algotrade_stream_pending{" in text
    assert 'group="order_processor"' in text
    assert "# TYPE algotrade_order_transitions_total counter" in text
