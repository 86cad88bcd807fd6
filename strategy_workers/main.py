"""The strategy workers as their own process (distributed profile): a Celery worker.

``algotrade serve strategy-worker`` (or ``python -m strategy_workers.main``)
runs ``run(settings)``; the pool, concurrency and queue come from
``ALGOTRADE_STRATEGY_*`` (see ``options.py``).
"""

from __future__ import annotations

import os

from shared.config import Settings, get_settings
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
    app.worker_main(worker_argv(settings, options))


if __name__ == "__main__":
    run(get_settings())
