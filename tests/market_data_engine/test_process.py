"""The distributed market data engine as its own process, against real Redis and InfluxDB."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from shared.bus.redis import RedisEventBus
from shared.contracts import EVALUATION_LEDGER
from shared.redis_client import create_redis
from tests.servers import ProcessServer

pytestmark = pytest.mark.service
ROOT = Path(__file__).resolve().parents[2]
BARS_CSV = ROOT / "tests" / "market_data_engine" / "fixtures" / "bars_1m_sample.csv"


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


def test_served_engine_records_evaluation_tasks_and_sends_unfinished_ones_again(
    redis_server, influx_server, tmp_path
):
    client = redis.Redis(host=redis_server.host, port=redis_server.port, decode_responses=True)
    client.flushdb()
    env = {
        "ALGOTRADE_PROFILE": "distributed",
        "ALGOTRADE_REDIS_PORT": str(redis_server.port),
        "ALGOTRADE_INFLUX_URL": influx_server.url,
        "ALGOTRADE_INFLUX_DATABASE": "md_ledger",
        "ALGOTRADE_FEED": "replay",
        "ALGOTRADE_FEED_REPLAY_PATHS": str(BARS_CSV),
        "ALGOTRADE_DATA_DIR": str(tmp_path),
        # No strategy worker runs: nothing finishes, so each task is sent again once, then
        # given up.
        "ALGOTRADE_EVALUATION_REDISPATCH_AFTER_SECONDS": "1",
        "ALGOTRADE_EVALUATION_REDISPATCH_MAX_ATTEMPTS": "1",
        "ALGOTRADE_EVALUATION_REDISPATCH_EVERY_SECONDS": "0.2",
        # The queue the strategy workers are told to read is where the tasks go.
        "ALGOTRADE_STRATEGY_QUEUE": "evaluations",
        "ALGOTRADE_STRATEGY_SHARDS": "2",
    }
    proc = ProcessServer(
        [sys.executable, "-m", "algotrade.cli", "serve", "market-data"],
        env=env,
        cwd=ROOT,
        name="market-data-ledger",
        ready=lambda p: True,
    )
    recorded: set[str] = set()

    def sent_ids() -> list[str]:
        return [json.loads(m)["headers"]["id"] for m in client.lrange("evaluations", 0, -1)]

    def settled() -> bool:
        """Every task recorded, sent twice under its id (sent, sent again), and given up."""
        recorded.update(client.hkeys(EVALUATION_LEDGER))
        sent = sent_ids()
        return (
            bool(recorded)
            and client.hlen(EVALUATION_LEDGER) == 0
            and sorted(sent) == sorted([*recorded, *recorded])
        )

    proc.start()
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and not settled():
            time.sleep(0.05)
        done, sent, log = settled(), sent_ids(), proc.log_tail(200)
    finally:
        proc.stop()
        client.close()

    assert done, (sorted(recorded), sent, log)
    assert "gave up on" in log
