"""The distributed market data engine as its own process, against real Redis and InfluxDB."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx
import pytest

from shared.bus.redis import RedisEventBus
from shared.redis_client import create_redis
from tests.servers import ProcessServer

pytestmark = pytest.mark.service
ROOT = Path(__file__).resolve().parents[2]


async def test_served_engine_publishes_ticks_on_redis_and_stores_them_in_influxdb(
    redis_server, influx_server, tmp_path
):
    env = {
        "ALGOTRADE_PROFILE": "distributed",
        "ALGOTRADE_REDIS_PORT": str(redis_server.port),
        "ALGOTRADE_INFLUX_URL": influx_server.url,
        "ALGOTRADE_INFLUX_DATABASE": "md_process",
        "ALGOTRADE_FEED_SYMBOLS": "BTCUSDT,ETHUSDT",
        "ALGOTRADE_FEED_RATE": "200",
        "ALGOTRADE_DATA_DIR": str(tmp_path),
    }
    bus = RedisEventBus(create_redis(host="127.0.0.1", port=redis_server.port), owns_client=True)
    sub = await bus.subscribe([], ["md:ticks:*"])
    proc = ProcessServer(
        [sys.executable, "-m", "algotrade.cli", "serve", "market-data"],
        env=env,
        cwd=ROOT,
        name="market-data",
        ready=lambda p: True,
    )
    proc.start()
    try:
        got = await sub.get(wait=30)
        assert got is not None, proc.log_tail()
        channel, tick = got
        assert channel in ("md:ticks:BTCUSDT", "md:ticks:ETHUSDT") and tick.price > 0
        deadline = time.monotonic() + 20
        count = 0
        async with httpx.AsyncClient(base_url=influx_server.url) as client:
            while time.monotonic() < deadline and count == 0:
                r = await client.get(
                    "/query", params={"db": "md_process", "q": "SELECT count(price) FROM ticks"}
                )
                series = r.json()["results"][0].get("series")
                count = series[0]["values"][0][1] if series else 0
                await asyncio.sleep(0.5)
        assert count > 0, proc.log_tail()
    finally:
        proc.stop()
        await sub.close()
        await bus.close()
