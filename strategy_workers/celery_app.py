"""The Celery app of the strategy workers (distributed profile) and its one task.

``celery -A strategy_workers.celery_app worker -Q strategy_workers -n strategy-1@%h``
runs a worker from the ``ALGOTRADE_*`` environment (give each worker of a host its own
``-n``; ``algotrade serve strategy-worker`` names its worker by process id).
Delivery: the Redis broker, late acknowledgement (a task is acknowledged after it
ran), rejection when the worker process is lost, one task prefetched at a time, so a
task whose worker was killed is delivered again after the broker's visibility timeout. The task
is idempotent (signals are stored once by ``signal_id``; intents carry a
deterministic ``client_order_id``), so running it twice is harmless; and a task
that arrives too long after its candles closed (``closed_at``) records them as
skipped instead of trading on them late.

The evaluation ledger (``shared.task_ledger``) makes every task the market data engine
sent run at least once, including one lost by a worker killed between taking it off the
queue and recording it as unacknowledged (Celery's Redis transport does those in two
steps, and the visibility timeout cannot bring such a task back). The engine records each
task under its task id before sending it; this task, when it starts, moves its record's due
time one re-send delay ahead and renews that while it runs (a killed worker's task is so
sent again about 20 s later; before a retry, past the retry's countdown too), and removes
the record once the task is finished: evaluated, skipped as stale, dropped as
malformed, or out of retries. A record still held when it falls due is sent again by the
engine's sweeper with the same task id and ``closed_at`` (docs/operations.md). The ledger is
on the broker's Redis; a worker that cannot reach it logs a WARNING and evaluates anyway
(the record then stays and its task runs once more, harmlessly).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_shutdown, worker_shutdown
from pydantic import ValidationError

from shared import metrics
from shared.config import Settings, get_settings
from shared.contracts import TASK_EVALUATE_CANDLES, CandleMsg
from shared.task_ledger import EvaluationLedger, ledger_from_settings
from shared.tasks import broker_url
from strategy_workers.options import WorkerOptions
from strategy_workers.worker import close_runtime, runtime_for

log = logging.getLogger(__name__)

UNACKED_MUTEX_EXPIRE = 30  # seconds


def create_celery_app(
    settings: Settings | None = None, options: WorkerOptions | None = None, **overrides: Any
) -> Celery:
    """The strategy workers' Celery app; ``overrides`` are extra Celery settings."""
    settings = settings or get_settings()
    options = options or WorkerOptions()
    app = Celery("strategy_workers", broker=broker_url(settings), set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_default_queue=options.queue,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": options.visibility_timeout,
            "unacked_restore_interval": options.restore_interval,
            # The lock a worker takes while it restores abandoned tasks (milliseconds of
            # work). Held by a worker killed meanwhile, it blocks every restore until it
            # expires: 30 s, not kombu's 5 minutes.
            "unacked_mutex_expire": UNACKED_MUTEX_EXPIRE,
        },
        worker_hijack_root_logger=False,
        enable_utc=True,
        # Carried by the app, so its tasks build their clients from these, not from globals.
        algotrade_settings=settings,
        algotrade_worker_options=options,
        algotrade_ledger=ledger_from_settings(settings),
    )
    app.conf.update(overrides)
    app.task(
        name=TASK_EVALUATE_CANDLES,
        bind=True,
        max_retries=options.max_retries,
        acks_late=True,
        reject_on_worker_lost=True,
        shared=False,  # this app's own options, not those of another app made in the process
    )(evaluate_candles)
    return app


def evaluate_candles(
    task: Task, candles: list[dict[str, Any]], closed_at: str | None = None
) -> dict[str, int]:
    """Evaluate one shard of closed candles; retried with back-off when a dependency fails.

    ``closed_at`` (ISO 8601) is when the candles closed; a retry keeps it, so a task
    retried or delivered again too late skips its candles. The task's record in the
    evaluation ledger is held while it runs and removed once it is finished.
    """
    conf = task.app.conf
    ledger: EvaluationLedger | None = conf.get("algotrade_ledger")
    span = ledger.redispatch_after if ledger is not None else 0.0
    _hold(ledger, task, span)
    try:
        burst = [CandleMsg.model_validate(c) for c in candles]
    except ValidationError:
        # A payload that can never parse is dropped, not retried forever.
        log.exception("dropping an evaluation task with malformed candles")
        _finish(ledger, task)
        return {"candles": 0}
    closed = _closed_at(closed_at)
    started = time.perf_counter()
    if closed is not None:
        delay = (datetime.now(UTC) - closed).total_seconds()
        metrics.TASK_DELAY.labels(TASK_EVALUATE_CANDLES).observe(max(delay, 0.0))
    try:
        runtime = runtime_for(conf["algotrade_settings"], conf["algotrade_worker_options"])
        with _Lease(ledger, task, span):
            outcome = runtime.evaluate(burst, closed)
    except Exception as exc:
        metrics.TASK_FAILURES.labels(TASK_EVALUATE_CANDLES).inc()
        retries = task.request.retries or 0
        countdown = min(30, 2**retries)
        log.warning("evaluation of %d candles failed (try %d): %r", len(burst), retries + 1, exc)
        if task.max_retries is not None and retries >= task.max_retries:
            _finish(ledger, task)  # Celery gives up on it: so does the ledger
        else:
            _hold(ledger, task, countdown + span)
        raise task.retry(exc=exc, countdown=countdown) from exc
    finally:
        metrics.TASK_LATENCY.labels(TASK_EVALUATE_CANDLES).observe(time.perf_counter() - started)
    _finish(ledger, task)
    for signal in outcome.signals:
        metrics.SIGNALS.labels(signal.action.value).inc()
    return {
        "candles": outcome.candles,
        "evaluations": outcome.evaluations,
        "signals": len(outcome.signals),
        "intents": len(outcome.intents),
        "stale": outcome.stale,
        "skipped": len(outcome.skipped),
    }


def _hold(ledger: EvaluationLedger | None, task: Task, seconds: float) -> None:
    """Keep the ledger from sending the task again for ``seconds`` (it is running)."""
    if ledger is None or not task.request.id:
        return
    try:
        ledger.started(task.request.id, seconds)
    except Exception as exc:
        log.warning("holding evaluation task %s in the ledger failed: %r", task.request.id, exc)


class _Lease:
    """Holds a running task's record ``span`` seconds ahead, renewed every quarter span.

    A worker killed mid-task stops renewing, so its task is sent again about one span
    later (20 s by default), soon enough for a 1m candle to be evaluated rather than
    skipped as stale; the broker's visibility timeout alone takes minutes. A task that
    runs long is renewed, not sent again while it runs.
    """

    def __init__(self, ledger: EvaluationLedger | None, task: Task, span: float) -> None:
        self.ledger, self.span = ledger, span
        self.task_id: str | None = task.request.id  # the request is this thread's own
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Lease:
        if self.ledger is not None and self.task_id and self.span > 0:
            self._thread = threading.Thread(
                target=self._renew, name="evaluation-lease", daemon=True
            )
            self._thread.start()
        return self

    def _renew(self) -> None:
        assert self.ledger is not None and self.task_id is not None
        while not self._stop.wait(self.span / 4):
            try:
                self.ledger.started(self.task_id, self.span)
            except Exception as exc:
                log.warning(
                    "renewing evaluation task %s in the ledger failed: %r", self.task_id, exc
                )

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _finish(ledger: EvaluationLedger | None, task: Task) -> None:
    """The task is done with: the ledger forgets it (else it is sent again, harmlessly)."""
    if ledger is None or not task.request.id:
        return
    try:
        ledger.finished(task.request.id)
    except Exception as exc:
        log.warning(
            "removing finished evaluation task %s from the ledger failed (it will run once "
            "more): %r",
            task.request.id,
            exc,
        )


def _closed_at(value: str | None) -> datetime | None:
    if value is None:
        return None  # a task from a sender that does not say: evaluated as it comes
    try:
        stamp = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        log.warning("evaluation task with an unreadable closed_at %r: age not checked", value)
        return None
    return stamp if stamp.tzinfo is not None else None


def _release(**_: Any) -> None:
    close_runtime()


def _forget_process(**_: Any) -> None:
    metrics.process_exited(os.getpid())  # its live gauges leave the sum (multiprocess mode)


worker_process_shutdown.connect(_release, weak=False)
worker_process_shutdown.connect(_forget_process, weak=False)
worker_shutdown.connect(_release, weak=False)


app = create_celery_app()
