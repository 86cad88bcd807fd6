"""REST sweeps across processes: distributed, each grid point batch a Celery task of its own
taken by a real worker; embedded, the gateway's process pool. Either way the ranking is the
in-process sweep's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from analytics_service.backtest import BacktestRequest, bars_from_candles
from analytics_service.backtest.report import jsonable
from analytics_service.backtest.sweep import run_sweep, sweep_result
from shared.bus import create_event_bus
from shared.contracts import BacktestProgressMsg, Timeframe, user_channel
from shared.models import BacktestSweepPoint
from tests.analytics_service.test_api_backtests import analytics_worker, finished
from tests.analytics_service.walk_backtests import SYMBOL, body, candles, store_candles
from tests.api_gateway.conftest import Api, build_api, settings_for
from tests.api_gateway.route_walk import R

B = f"{R}/backtests"
GRID = {"fast": [3, 5], "slow": [10, 20, 30]}


async def gateway(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, **overrides: Any
) -> AsyncIterator[Api]:
    extra: dict[str, Any] = {"backtest_max_bars": 100_000, **overrides}
    if backend == "postgres":
        redis = request.getfixturevalue("redis_server")
        influx = request.getfixturevalue("influx_server")
        extra |= {
            "redis_host": redis.host,
            "redis_port": redis.port,
            "redis_cluster_mode": False,
            "influx_url": influx.url,
            "influx_database": f"sweeps_{request.node.name[:20].replace('-', '_')}",
        }
    settings = settings_for(backend, request, tmp_path, **extra)
    worker = analytics_worker(settings) if backend == "postgres" else None
    async for built in build_api(settings):
        await store_candles(built.client)
        if worker is not None:
            await asyncio.to_thread(worker.start)
        try:
            yield built
        finally:
            if built.ctx.backtest_launcher is not None:
                await built.ctx.backtest_launcher.stop()
            if worker is not None:
                await asyncio.to_thread(worker.stop)
            await built.ctx.tickstore().close()


@pytest.fixture
async def distributed(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """PostgreSQL, Redis, InfluxDB and a real analytics worker; two points per task."""
    async for built in gateway(request, tmp_path, "postgres", backtest_sweep_points_per_task=2):
        yield built


@pytest.fixture
async def embedded(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """SQLite, the local store, runs in the gateway with a pool of two processes."""
    async for built in gateway(request, tmp_path, "sqlite", backtest_sweep_processes=2):
        yield built


def in_process(run: dict[str, Any]) -> dict[str, Any]:
    """The same sweep run here, one point after the other, on the same candles."""
    request = BacktestRequest.model_validate(run["request"]["request"])
    bars = bars_from_candles(SYMBOL, Timeframe.M1, candles())
    sweep = run["request"]["sweep"]
    ranked, refused = run_sweep(request, bars, sweep["grid"], rank_by=sweep["rank_by"])
    out: dict[str, Any] = jsonable(sweep_result(ranked, refused, sweep["rank_by"]))
    return out


async def _points(api: Api, run_id: int) -> list[BacktestSweepPoint]:
    async with api.ctx.sessions() as session:
        rows = await session.scalars(
            select(BacktestSweepPoint)
            .where(BacktestSweepPoint.run_id == run_id)
            .order_by(BacktestSweepPoint.point)
        )
        return list(rows)


@pytest.mark.service
async def test_a_sweeps_points_run_as_celery_tasks_and_rank_as_in_process(distributed):
    api = distributed
    trader = await api.trader()
    bus = create_event_bus(api.ctx.settings)
    sub = await bus.subscribe([user_channel(trader.id)], [])
    sweep = {"grid": GRID, "rank_by": "net_pnl"}

    r = await api.client.post(B, headers=trader.headers, json=body(sweep=sweep))

    assert r.status_code == 202, r.text
    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    assert run["progress"] == 1.0 and run["bars"] == 400
    written = await _points(api, run["id"])
    assert [p.point for p in written] == list(range(6))
    tasks = [p.task_id for p in written]
    assert len(set(tasks)) == 3 and all(tasks), tasks  # two points per task
    assert tasks[0] == tasks[1] != tasks[2]
    assert run["result"] == in_process(run)
    assert len(run["result"]["points"]) == 6
    seen = []
    while (item := await sub.get(0.5)) is not None:
        seen.append(item[1])
    await sub.close()
    await bus.close()
    progress = [(m.status, m.progress) for m in seen if isinstance(m, BacktestProgressMsg)]
    assert progress[-1] == ("done", 1.0)
    running = [p for s, p in progress if s == "running"]
    assert running == [0.0, *(round(k / 6, 4) for k in range(1, 7))], progress  # per point


@pytest.mark.service
async def test_point_tasks_that_find_the_sweep_cancelled_stop(distributed):
    api = distributed
    trader = await api.trader()
    grid = {"fast": list(range(2, 12)), "slow": [20, 25, 30, 35]}  # 40 points, 20 tasks

    r = await api.client.post(B, headers=trader.headers, json=body(sweep={"grid": grid}))
    run_id = r.json()["id"]
    for _ in range(500):
        got = (await api.client.get(f"{B}/{run_id}", headers=trader.headers)).json()
        if got["progress"] > 0:
            break
        await asyncio.sleep(0.02)
    cancelled = await api.client.post(f"{B}/{run_id}/cancel", headers=trader.headers)

    assert cancelled.status_code == 200, cancelled.text
    run = await finished(api, trader.headers, run_id)
    assert run["status"] == "cancelled", run
    assert run["result"] is None
    for _ in range(200):  # the tasks still queued write their points as not run
        written = await _points(api, run_id)
        if len(written) == 40:
            break
        await asyncio.sleep(0.05)
    ran = [p for p in written if p.summary is not None]
    assert 0 < len(ran) < 40
    assert all(p.error is None for p in written)


async def test_embedded_sweeps_run_on_the_gateways_process_pool(embedded):
    api = embedded
    trader = await api.trader()

    r = await api.client.post(
        B, headers=trader.headers, json=body(sweep={"grid": GRID, "rank_by": "sharpe"})
    )

    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    assert run["result"] == in_process(run)
    pool = api.ctx.backtests().ctx.executor  # type: ignore[attr-defined]
    assert isinstance(pool, ProcessPoolExecutor)
    assert pool._processes  # the points ran in its worker processes


async def test_one_sweep_process_runs_the_points_in_the_runs_thread(request, tmp_path):
    async for api in gateway(request, tmp_path, "sqlite", backtest_sweep_processes=1):
        trader = await api.trader()
        r = await api.client.post(B, headers=trader.headers, json=body(sweep={"grid": GRID}))
        run = await finished(api, trader.headers, r.json()["id"])
        assert run["status"] == "done", run
        assert run["result"] == in_process(run)
        assert api.ctx.backtests().ctx.executor is None  # type: ignore[attr-defined]
