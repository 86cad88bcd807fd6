"""REST /backtests: submit, poll, fetch, list, cancel, delete; bad input as 4xx; limits;
progress on the user's channel; another user's runs are not found."""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from shared.config import Settings
from shared.contracts import BacktestProgressMsg, user_channel
from tests.analytics_service.walk_backtests import START, body, store_candles
from tests.api_gateway.conftest import Api, build_api, settings_for
from tests.api_gateway.route_walk import R
from tests.servers import ProcessServer

B = f"{R}/backtests"


ROOT = Path(__file__).resolve().parents[2]
_dbs = itertools.count(1)


def analytics_worker(settings: Settings) -> ProcessServer:
    """A real Celery worker of the analytics app, on the test's PostgreSQL, Redis, InfluxDB."""
    env = {
        "ALGOTRADE_ENVIRONMENT": "development",
        "ALGOTRADE_PROFILE": "distributed",
        "ALGOTRADE_DATABASE_URL": settings.sqlalchemy_url,
        "ALGOTRADE_REDIS_HOST": settings.redis_host,
        "ALGOTRADE_REDIS_PORT": str(settings.redis_port),
        "ALGOTRADE_REDIS_DB": "0",
        "ALGOTRADE_REDIS_CLUSTER_MODE": "false",
        "ALGOTRADE_INFLUX_URL": settings.influx_url,
        "ALGOTRADE_INFLUX_DATABASE": settings.influx_database,
        "ALGOTRADE_BACKTEST_MAX_BARS": str(settings.backtest_max_bars),
    }
    argv = [sys.executable, "-m", "celery", "-A", "analytics_service.celery_app", "worker"]
    argv += ["--pool=solo", "-c", "1", "-Q", settings.backtest_queue, "--without-gossip"]
    argv += ["--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
    return ProcessServer(argv, env=env, cwd=ROOT, name="celery-analytics", stop_signal=15)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.service)])
async def api(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Api]:
    """The gateway: embedded (SQLite, local store, runs in-process) or distributed
    (PostgreSQL, InfluxDB, runs as Celery tasks on Redis taken by a real worker process)."""
    limits = {"backtest_max_concurrent": 2, "backtest_max_bars": 100_000}
    worker = None
    if request.param == "postgres":
        redis = request.getfixturevalue("redis_server")
        influx = request.getfixturevalue("influx_server")
        limits |= {
            "redis_host": redis.host,
            "redis_port": redis.port,
            "redis_cluster_mode": False,
            "influx_url": influx.url,
            "influx_database": f"backtests_{next(_dbs)}",
        }
    settings = settings_for(request.param, request, tmp_path, **limits)
    if request.param == "postgres":
        worker = analytics_worker(settings)
    async for built in build_api(settings):
        await store_candles(built.client)
        if worker is not None:
            await asyncio.to_thread(worker.start)
        try:
            yield built
        finally:
            launcher = built.ctx.backtest_launcher
            if launcher is not None:
                await launcher.stop()
            if worker is not None:
                await asyncio.to_thread(worker.stop)
            await built.ctx.tickstore().close()


async def finished(api: Api, headers: dict[str, str], run_id: int) -> dict:
    for _ in range(500):
        got = await api.client.get(f"{B}/{run_id}", headers=headers)
        assert got.status_code == 200, got.text
        if got.json()["status"] not in ("queued", "running"):
            return got.json()
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish")


async def test_a_submitted_backtest_runs_and_its_report_can_be_fetched(api):
    trader = await api.trader()

    r = await api.client.post(B, headers=trader.headers, json=body())

    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued"
    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    assert run["progress"] == 1.0
    assert run["bars"] == 400
    result = run["result"]
    assert result["trades"]
    assert result["run_card"]["strategy"] == "ma_crossover"
    assert result["conventions"]["fill_at"] == "next_open"
    assert result["metrics"]["trades"]["count"] >= 1
    listing = await api.client.get(B, headers=trader.headers)
    assert [item["id"] for item in listing.json()["items"]] == [run["id"]]
    assert "result" not in listing.json()["items"][0]


async def test_a_sweep_ranks_its_grid(api):
    trader = await api.trader()
    sweep = {"grid": {"fast": [3, 5], "slow": [10, 20]}, "rank_by": "net_pnl"}

    r = await api.client.post(B, headers=trader.headers, json=body(sweep=sweep))

    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    points = run["result"]["points"]
    assert len(points) == 4
    assert [p["net_pnl"] for p in points] == sorted((p["net_pnl"] for p in points), reverse=True)


@pytest.mark.parametrize(
    ("overrides", "status", "text"),
    [
        ({"strategy": "nope"}, 422, "no strategy named"),
        ({"params": {"fast": 50, "slow": 20}}, 422, "slow"),
        ({"params": {"speed": 3}}, 422, "speed"),
        ({"settings": {"sizing_method": "martingale"}}, 422, "sizing method"),
        ({"end": START.isoformat()}, 422, "end must be after"),
        ({"symbol": "TCS"}, 422, "no 1m candles of TCS"),
        ({"start": (START - timedelta(days=400)).isoformat()}, 422, "per-run limit"),
        ({"sweep": {"grid": {"fast": [50, 60]}}}, 422, "no point of the grid"),
        ({"settings": {"capital": "-5"}}, 422, "capital"),
    ],
    ids=[
        "unknown strategy",
        "params outside schema",
        "unknown param",
        "sizing",
        "empty range",
        "no data",
        "too many bars",
        "empty grid",
        "capital",
    ],
)
async def test_bad_requests_are_4xx_and_store_nothing(api, overrides, status, text):
    trader = await api.trader()

    r = await api.client.post(B, headers=trader.headers, json=body(**overrides))

    assert r.status_code == status, r.text
    assert text in r.text
    assert (await api.client.get(B, headers=trader.headers)).json()["total"] == 0


async def test_a_run_cancelled_right_after_submission_ends_cancelled(api):
    trader = await api.trader()
    r = await api.client.post(B, headers=trader.headers, json=body())
    run_id = r.json()["id"]

    cancelled = await api.client.post(f"{B}/{run_id}/cancel", headers=trader.headers)

    assert cancelled.status_code == 200, cancelled.text
    run = await finished(api, trader.headers, run_id)
    assert run["status"] == "cancelled"
    again = await api.client.post(f"{B}/{run_id}/cancel", headers=trader.headers)
    assert again.status_code == 409


async def test_a_finished_run_can_be_deleted_an_active_one_cannot(api):
    trader = await api.trader()
    first = (await api.client.post(B, headers=trader.headers, json=body())).json()["id"]
    active = await api.client.delete(f"{B}/{first}", headers=trader.headers)
    await finished(api, trader.headers, first)

    gone = await api.client.delete(f"{B}/{first}", headers=trader.headers)

    assert active.status_code == 409
    assert gone.status_code == 204
    assert (await api.client.get(f"{B}/{first}", headers=trader.headers)).status_code == 404


class Parked:
    """A launcher that starts nothing: submitted runs stay queued."""

    async def launch(self, user_id: int, run_id: int) -> None:
        return None

    def cancel(self, run_id: int) -> None:
        return None

    async def stop(self) -> None:
        return None


async def test_concurrent_runs_are_limited_per_user(api):
    api.ctx.backtest_launcher = Parked()
    trader, other = await api.trader(), await api.trader()
    for _ in range(2):
        assert (await api.client.post(B, headers=trader.headers, json=body())).status_code == 202

    third = await api.client.post(B, headers=trader.headers, json=body())
    others = await api.client.post(B, headers=other.headers, json=body())

    assert third.status_code == 429, third.text
    assert others.status_code == 202


async def test_progress_is_published_on_the_users_channel(api):
    """Embedded: on the in-process bus; distributed: the worker publishes on Redis."""
    from shared.bus import InProcessEventBus, create_event_bus

    if api.ctx.settings.profile.value == "embedded":
        bus = InProcessEventBus()
        api.ctx.bus = bus
        api.ctx.backtest_launcher = None  # built again with the bus
    else:
        bus = create_event_bus(api.ctx.settings)
    trader = await api.trader()
    sub = await bus.subscribe([user_channel(trader.id)], [])
    try:
        r = await api.client.post(B, headers=trader.headers, json=body())
        await finished(api, trader.headers, r.json()["id"])
        seen = []
        while (item := await sub.get(0.5)) is not None:
            seen.append(item[1])
    finally:
        await sub.close()
        await bus.close()
    statuses = [m.status for m in seen if isinstance(m, BacktestProgressMsg)]
    assert statuses[0] == "running" and statuses[-1] == "done"
    assert all(m.run_id == r.json()["id"] for m in seen)


async def test_another_users_run_is_not_found(api):
    owner, intruder = await api.trader(), await api.trader()
    run_id = (await api.client.post(B, headers=owner.headers, json=body())).json()["id"]
    await finished(api, owner.headers, run_id)

    for method, path in (
        ("GET", f"{B}/{run_id}"),
        ("POST", f"{B}/{run_id}/cancel"),
        ("DELETE", f"{B}/{run_id}"),
    ):
        r = await api.client.request(method, path, headers=intruder.headers)
        assert r.status_code == 404, (method, path, r.status_code)
    assert (await api.client.get(B, headers=intruder.headers)).json()["total"] == 0
