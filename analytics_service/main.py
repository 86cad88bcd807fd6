"""The analytics workers as their own process (distributed profile): a Celery worker that runs
backtests and alert deliveries (``algotrade serve analytics-worker`` or
``python -m analytics_service.main``)."""

from __future__ import annotations

import os

from shared.alerts import ALERTS_QUEUE
from shared.bus import create_event_bus
from shared.config import Settings, get_settings
from shared.db import create_engine
from shared.probe_server import ProbeServer, serve_in_thread
from shared.readiness import bus_checks, database_check, redis_url_check
from shared.tasks import broker_url

from .celery_app import create_celery_app


def worker_argv(settings: Settings) -> list[str]:
    """The ``celery worker`` command line: one backtest at a time per process, in the worker
    process itself (solo pool: a prefork child is daemonic and could not start the process
    pool a sweep spreads its points over). Scale out with more worker processes."""
    return [
        "worker",
        f"--hostname=analytics-worker-{os.getpid()}@%h",
        f"--loglevel={settings.log_level.upper()}",
        "--pool=solo",
        f"--queues={worker_queues(settings)}",
        "--without-gossip",
        "--without-mingle",
    ]


def worker_queues(settings: Settings) -> str:
    """``analytics_worker_queues``, else the backtest queue and alert deliveries: a deployment
    without a worker of its own for deliveries still sends them, and one with a worker of
    ``alerts`` alone (docker-compose's ``alerts-worker``) keeps them clear of long backtests."""
    return settings.analytics_worker_queues or f"{settings.backtest_queue},{ALERTS_QUEUE}"


def run(settings: Settings) -> None:
    """Run a Celery worker until it is signalled to stop (SIGTERM: finish the run, then exit)."""
    app = create_celery_app(settings)
    if settings.analytics_worker_probe_port:
        serve_in_thread(lambda: probe_server(settings))
    app.worker_main(worker_argv(settings))


def probe_server(settings: Settings) -> ProbeServer:
    """/health, /ready and /metrics of the worker, on ALGOTRADE_ANALYTICS_WORKER_PROBE_PORT."""
    checks = {
        "celery broker": redis_url_check(broker_url(settings)),
        "database": database_check(create_engine(settings)),
        **bus_checks(create_event_bus(settings)),
    }
    return ProbeServer(
        settings.probe_host,
        settings.analytics_worker_probe_port,
        service="analytics-worker",
        checks=checks,
        timeout_s=settings.ready_timeout_seconds,
    )


if __name__ == "__main__":
    run(get_settings())
