"""The strategy workers as their own process (distributed profile): a Celery worker.

``algotrade serve strategy-worker`` (or ``python -m strategy_workers.main``)
runs ``run(settings)``; the pool, concurrency and queue come from
``ALGOTRADE_STRATEGY_*`` (see ``options.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

from shared import metrics
from shared.bus import create_event_bus
from shared.config import Settings, get_settings
from shared.db import create_engine
from shared.probe_server import ProbeServer, serve_in_thread
from shared.readiness import bus_checks, database_check, redis_url_check
from shared.tasks import broker_url
from strategy_workers.celery_app import create_celery_app
from strategy_workers.options import WorkerOptions


def worker_name() -> str:
    """A node name no other worker of this host has (Celery's default, ``celery@host``, is the
    same for every worker on a host, so they cannot be told apart or controlled one by one)."""
    return f"strategy-worker-{os.getpid()}@%h"


def worker_argv(settings: Settings, options: WorkerOptions) -> list[str]:
    """The ``celery worker`` command line for these settings."""
    return [
        "worker",
        f"--hostname={worker_name()}",
        f"--loglevel={settings.log_level.upper()}",
        f"--pool={options.pool}",
        f"--concurrency={options.concurrency}",
        f"--queues={options.queue}",
        "--without-gossip",
        "--without-mingle",
    ]


def run(settings: Settings, options: WorkerOptions | None = None) -> None:
    """Run a Celery worker until it is signalled to stop (SIGTERM: finish the task, then exit)."""
    options = options or WorkerOptions()
    app = create_celery_app(settings, options)
    _clear_metrics_dir()
    if settings.strategy_worker_probe_port:
        serve_in_thread(lambda: probe_server(settings))
    app.worker_main(worker_argv(settings, options))


def probe_server(settings: Settings) -> ProbeServer:
    """/health, /ready and /metrics of the worker (every pool process's metrics when
    PROMETHEUS_MULTIPROC_DIR is set), on ALGOTRADE_STRATEGY_WORKER_PROBE_PORT."""
    checks = {
        "celery broker": redis_url_check(broker_url(settings)),
        "database": database_check(create_engine(settings)),
        **bus_checks(create_event_bus(settings)),
    }
    return ProbeServer(
        settings.probe_host,
        settings.strategy_worker_probe_port,
        service="strategy-worker",
        checks=checks,
        timeout_s=settings.ready_timeout_seconds,
    )


def _clear_metrics_dir() -> None:
    """Values of processes of an earlier run would be added to this one's: start empty."""
    where = os.environ.get(metrics.MULTIPROC_ENV)
    if where and Path(where).is_dir():
        for stale in Path(where).glob("*.db"):
            stale.unlink(missing_ok=True)


if __name__ == "__main__":
    run(get_settings())
