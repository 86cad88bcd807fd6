"""Task contracts between the market data engine and the strategy workers (Celery).

Tasks are sent by name (``TASK_EVALUATE_CANDLES``) with JSON payloads, one task
per shard of symbols, so the sender needs no worker code, only this module. A task
carries when its candles closed (keyword ``closed_at``, ISO 8601): a worker that
receives it too late (a redelivery, a retry) records the candles as skipped. Each task has
an explicit task id; given an :class:`~shared.task_ledger.EvaluationLedger`, the sender
records the task there before sending it, and ``redispatch_due`` sends again what the
ledger holds as due (same task id, same ``closed_at``), so every evaluation runs at least once.
"""

from __future__ import annotations

import logging
import uuid
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import metrics
from shared.config import Settings
from shared.contracts import TASK_EVALUATE_CANDLES, CandleMsg
from shared.task_ledger import EvaluationLedger, LedgerEntry

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "strategy_workers"
DEFAULT_SHARDS = 8


class TaskRouting(BaseSettings):
    """Where the sender puts evaluation tasks, from the variables the strategy workers read
    too (``ALGOTRADE_STRATEGY_QUEUE``, ``ALGOTRADE_STRATEGY_SHARDS``): a queue renamed for the
    workers is the queue the market data engine sends to."""

    model_config = SettingsConfigDict(
        env_prefix="ALGOTRADE_STRATEGY_", env_file=".env", extra="ignore", frozen=True
    )

    shards: int = Field(DEFAULT_SHARDS, ge=1, le=1024)
    queue: str = DEFAULT_QUEUE


class TaskSender(Protocol):
    def send_task(self, name: str, args: Any = ..., **options: Any) -> Any: ...


def broker_url(settings: Settings) -> str:
    """``redis://[:password@]host:port/db`` from the ``ALGOTRADE_REDIS_*`` settings."""
    if settings.redis_cluster_mode:
        raise ValueError(
            "Celery's Redis broker needs a standalone Redis (or a Sentinel setup); "
            "point ALGOTRADE_REDIS_HOST/PORT at one for the strategy workers"
        )
    password = settings.redis_password.get_secret_value() if settings.redis_password else ""
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{settings.redis_host}:{settings.redis_port}/{settings.redis_db}"


def shard_of(symbol: str, shards: int) -> int:
    """The shard of ``symbol``: stable across processes (``hash()`` is salted per process)."""
    return zlib.crc32(symbol.encode()) % shards


def shard_candles(
    candles: Iterable[CandleMsg], shards: int = DEFAULT_SHARDS
) -> dict[int, list[dict[str, Any]]]:
    """Task payloads by shard: JSON-ready candle dicts; every timeframe of a symbol together."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    out: dict[int, list[dict[str, Any]]] = {}
    for candle in candles:
        out.setdefault(shard_of(candle.symbol, shards), []).append(candle.model_dump(mode="json"))
    return dict(sorted(out.items()))


def dispatch_candles(
    sender: TaskSender,
    candles: Iterable[CandleMsg],
    shards: int = DEFAULT_SHARDS,
    *,
    queue: str = DEFAULT_QUEUE,
    closed_at: datetime | None = None,
    ledger: EvaluationLedger | None = None,
) -> int:
    """Send one evaluation task per non-empty shard; returns how many tasks there are.

    ``closed_at`` (default: now) is when the candles closed; the task's age is judged by it.
    With a ``ledger`` the tasks are recorded there first (one transaction; an error there
    is raised and nothing is sent). Once recorded, a failing send is left to
    ``redispatch_due`` instead of raising, so a caller that retries on an error never sends
    a recorded task twice.
    """
    payloads = shard_candles(candles, shards)
    stamp = (closed_at or datetime.now(UTC)).isoformat()
    entries = [
        LedgerEntry(task_id=str(uuid.uuid4()), candles=payload, closed_at=stamp, queue=queue)
        for payload in payloads.values()
    ]
    if ledger is None:
        for entry in entries:
            send_evaluation(sender, entry)
        return len(entries)
    ledger.record(entries)
    for sent, entry in enumerate(entries):
        try:
            send_evaluation(sender, entry)
        except Exception:
            log.warning(
                "sending evaluation tasks failed; %d recorded ones are left for the ledger to "
                "send again",
                len(entries) - sent,
                exc_info=True,
            )
            break
    return len(entries)


def send_evaluation(sender: TaskSender, entry: LedgerEntry) -> None:
    """Send the task ``entry`` describes, under its own task id."""
    sender.send_task(
        TASK_EVALUATE_CANDLES,
        args=[entry.candles],
        kwargs={"closed_at": entry.closed_at},
        queue=entry.queue,
        task_id=entry.task_id,
    )


def redispatch_due(sender: TaskSender, ledger: EvaluationLedger) -> int:
    """Send again every evaluation task the ledger holds as due; returns how many were sent.

    Tasks the ledger gives up on are logged at ERROR and counted
    (``algotrade_tasks_given_up_total``); the ledger's size is set on its gauge.
    """
    sent = 0
    while True:
        due = ledger.take_due()
        metrics.TASK_LEDGER_SIZE.labels(TASK_EVALUATE_CANDLES).set(due.size)
        if due.given_up:
            metrics.TASKS_GIVEN_UP.labels(TASK_EVALUATE_CANDLES).inc(len(due.given_up))
            log.error(
                "gave up on %d evaluation tasks sent %d times and never finished; their candles "
                "may not have been evaluated: %s",
                len(due.given_up),
                ledger.max_attempts + 1,
                _describe(due.given_up),
            )
        for entry in due.resend:
            send_evaluation(sender, entry)
            metrics.TASKS_RESENT.labels(TASK_EVALUATE_CANDLES).inc()
            sent += 1
        if due.resend:
            log.warning(
                "sent %d unfinished evaluation tasks again: %s",
                len(due.resend),
                _describe(due.resend),
            )
        if not due.more or not (due.resend or due.given_up):
            return sent


def _describe(entries: list[LedgerEntry], most: int = 10) -> str:
    """``task id (closed at: symbols; sent again n x)`` of the first ``most`` entries."""
    parts = []
    for entry in entries[:most]:
        symbols = sorted({str(c.get("symbol")) for c in entry.candles})
        shown = ",".join(symbols[:5]) + (",..." if len(symbols) > 5 else "")
        parts.append(
            f"{entry.task_id} (closed {entry.closed_at}: {shown}; sent again {entry.attempts}x)"
        )
    more = f" and {len(entries) - most} more" if len(entries) > most else ""
    return "; ".join(parts) + more
