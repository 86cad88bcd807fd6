"""Alert delivery as Celery tasks (distributed profile): the event path only queues.

Whoever records an alert (the alerts process, a backtest worker) sends one task per alert
that queued deliveries: ``deliver_alerts(alert_id=..., delivery_ids=[...])`` on the
``alerts`` queue. The task runs late-acknowledged and is requeued if its worker is lost,
so it runs at least once; it is idempotent: it claims only rows still ``pending`` and due
(with the delivery loop's lease), so a second run of the same payload finds them sent and
sends nothing. ``alert_id`` is the alert's public id, the one every payload carries for
receivers to drop a copy. A retryable failure leaves the row ``pending`` with its next
attempt time; the task sends itself again for then. A task without ids is a sweep: every
due delivery (those whose task was lost before it reached the broker, or whose retry
task was).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.alerts import ALERTS_QUEUE, TASK_DELIVER_ALERTS
from shared.clock import Clock, SystemClock
from shared.config import Settings
from shared.db import create_engine, create_sessionmaker
from shared.ratelimit import rate_limiter_from_settings
from shared.tasks import TaskSender

from .delivery import DeliveryWorker, PassResult
from .store import Recorded

log = logging.getLogger(__name__)

MIN_RETRY_COUNTDOWN_S = 0.05


def enqueue(sender: TaskSender, recorded: Sequence[Recorded]) -> int:
    """Send the delivery task of each recorded alert that queued deliveries; returns how many
    (blocking: call it from a thread in async code)."""
    sent = 0
    for item in recorded:
        if item.delivery_ids:
            send(sender, item.message.alert_id, item.delivery_ids)
            sent += 1
    return sent


def send(
    sender: TaskSender,
    alert_id: str | None,
    delivery_ids: Sequence[int],
    *,
    countdown: float | None = None,
) -> None:
    """One delivery task (no ids: a sweep of every due delivery)."""
    options: dict[str, Any] = {"queue": ALERTS_QUEUE}
    if countdown is not None:
        options["countdown"] = countdown
    sender.send_task(
        TASK_DELIVER_ALERTS,
        kwargs={"alert_id": alert_id, "delivery_ids": list(delivery_ids)},
        **options,
    )


def deliver_alerts_task(
    task: Any, alert_id: str | None = None, delivery_ids: list[int] | None = None
) -> dict[str, int]:
    """The Celery task: send the due deliveries named (or all due ones), then schedule the
    retry of what is left pending."""
    settings: Settings = task.app.conf["algotrade_settings"]
    result, due = asyncio.run(deliver(settings, alert_id, delivery_ids or []))
    if delivery_ids and due is not None:
        wait = max(MIN_RETRY_COUNTDOWN_S, (due - SystemClock().now()).total_seconds())
        send(task.app, alert_id, delivery_ids, countdown=wait)
    return {
        "sent": result.sent,
        "retried": result.retried,
        "failed": result.failed,
        "postponed": result.postponed,
    }


async def deliver(
    settings: Settings,
    alert_id: str | None,
    delivery_ids: Sequence[int],
    *,
    clock: Clock | None = None,
) -> tuple[PassResult, datetime | None]:
    """One run of the task on clients made from ``settings`` (the per-channel rate limit is
    shared through Redis)."""
    engine = create_engine(settings)
    limiter = rate_limiter_from_settings(settings)
    worker = DeliveryWorker(
        create_sessionmaker(engine), settings, clock or SystemClock(), limiter=limiter
    )
    try:
        if not delivery_ids:
            return await worker.run_once(), None
        return await worker.run_ids(delivery_ids, alert_id)
    finally:
        await limiter.close()
        await engine.dispose()
