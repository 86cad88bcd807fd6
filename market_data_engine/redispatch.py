"""The sweeper of the evaluation ledger: sends again the evaluation tasks that never finished.

The market data engine records every evaluation task in the ledger before sending it
(``shared.task_ledger``); a task a worker lost is still held there when it falls due. Every
``every`` seconds this task sends such tasks again (same task id, same ``closed_at``),
through ``shared.tasks.redispatch_due``, on a thread (the ledger's client blocks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from shared.task_ledger import EvaluationLedger
from shared.tasks import TaskSender, redispatch_due

log = logging.getLogger(__name__)


class Redispatcher:
    """A periodic asyncio task sending again what the evaluation ledger holds as due."""

    def __init__(self, sender: TaskSender, ledger: EvaluationLedger, *, every: float) -> None:
        self.sender = sender
        self.ledger = ledger
        self.every = every
        self.sent = 0
        """Tasks sent again since start."""
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="evaluation-ledger-sweeper")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def sweep(self) -> int:
        """One pass: send again what is due now; returns how many were sent."""
        sent = await asyncio.to_thread(redispatch_due, self.sender, self.ledger)
        self.sent += sent
        return sent

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                if not self._failing:  # once per outage, not every pass
                    log.warning("sweeping the evaluation ledger failed", exc_info=True)
                self._failing = True
            else:
                if self._failing:
                    log.info("sweeping the evaluation ledger works again")
                self._failing = False
            await asyncio.sleep(self.every)
