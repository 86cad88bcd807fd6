"""The Celery app of the analytics workers (distributed profile): backtest runs, and alert
deliveries (``analytics_service.alerts.tasks``) on their own queue.

``celery -A analytics_service.celery_app worker -Q analytics -n analytics-1@%h`` runs a
worker from the ``ALGOTRADE_*`` environment (``-Q alerts`` a worker of alert deliveries,
so a long backtest never holds an alert back). A sweep's run sends its grid points as
tasks of their own on the same queue (``analytics_service.sweep_tasks``), so any worker
takes them. Late acknowledgement and rejection when the worker is lost, like the strategy
workers; the tasks are idempotent (a run that is no longer queued is left as it is, a
point already written is not run again), and a run whose worker died stays ``running``:
cancel it and submit it again.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from celery import Celery

from shared.alerts import TASK_DELIVER_ALERTS
from shared.bus import create_event_bus
from shared.clock import SystemClock
from shared.config import Settings, get_settings
from shared.contracts import TASK_RUN_BACKTEST, TASK_RUN_SWEEP_POINTS
from shared.db import create_engine, create_sessionmaker
from shared.tasks import broker_url
from shared.tickstore import tickstore_from_settings

from .alerts.tasks import deliver_alerts_task
from .backtests import RunContext, TaskSender, execute_run, limits_from
from .sweep_tasks import CeleryPointDispatch, PointChunk, run_points


def create_celery_app(settings: Settings | None = None, **overrides: Any) -> Celery:
    """The analytics workers' Celery app; ``overrides`` are extra Celery settings."""
    settings = settings or get_settings()
    app = Celery("analytics_service", broker=broker_url(settings), set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_default_queue=settings.backtest_queue,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        enable_utc=True,
        algotrade_settings=settings,
    )
    app.conf.update(overrides)
    app.task(name=TASK_RUN_BACKTEST, bind=True, acks_late=True, reject_on_worker_lost=True)(
        run_backtest_task
    )
    app.task(name=TASK_RUN_SWEEP_POINTS, bind=True, acks_late=True, reject_on_worker_lost=True)(
        run_sweep_points_task
    )
    app.task(name=TASK_DELIVER_ALERTS, bind=True, acks_late=True, reject_on_worker_lost=True)(
        deliver_alerts_task
    )
    return app


def run_backtest_task(task: Any, user_id: int, run_id: int) -> str:
    """Run one stored backtest run (its clients built from the app's settings); a sweep's
    points are sent on as tasks of their own."""
    settings: Settings = task.app.conf["algotrade_settings"]

    async def work() -> str:
        async with _context(settings, task.app) as ctx:
            return await execute_run(ctx, user_id, run_id, threading.Event())

    return asyncio.run(work())


def run_sweep_points_task(
    task: Any,
    user_id: int,
    run_id: int,
    lo: int,
    hi: int,
    data_key: str,
    request: dict[str, Any],
) -> str:
    """Run points ``[lo, hi)`` of a sweep run's grid (sent by its ``run_backtest`` task)."""
    settings: Settings = task.app.conf["algotrade_settings"]
    chunk = PointChunk(user_id, run_id, lo, hi, data_key, request)

    async def work() -> str:
        async with _context(settings, task.app) as ctx:
            return await run_points(ctx, chunk, str(task.request.id or ""))

    return asyncio.run(work())


@asynccontextmanager
async def _context(settings: Settings, sender: TaskSender) -> AsyncIterator[RunContext]:
    engine = create_engine(settings)
    bus = create_event_bus(settings)
    tickstore = tickstore_from_settings(settings)
    queue, per_task = settings.backtest_queue, settings.backtest_sweep_points_per_task
    ctx = RunContext(
        sessions=create_sessionmaker(engine),
        tickstore=tickstore,
        clock=SystemClock(),
        bus=bus,
        limits=limits_from(settings),
        # A walk-forward run's grid runs in this task, on a pool of its own.
        sweep_processes=max(1, (os.cpu_count() or 1) - 1),
        dispatch=CeleryPointDispatch(sender, queue, per_task),
    )
    try:
        yield ctx
    finally:
        await tickstore.close()
        await bus.close()
        await engine.dispose()


app = create_celery_app()
