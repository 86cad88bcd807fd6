"""Alerts inside the one-process runner (embedded profile): consumer, price watcher, delivery
loop and the daily purge of old history, on the runtime's clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from analytics_service.alerts.consumer import AlertConsumer
from analytics_service.alerts.delivery import DeliveryWorker
from analytics_service.alerts.price_watch import PriceWatcher
from analytics_service.alerts.service import purge_history
from analytics_service.alerts.store import Recorded
from shared.ratelimit import InMemoryRateLimiter
from shared.runtime import Runtime

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0


class AlertsService:
    """The running alert parts; ``stop`` ends them in reverse."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.delivery = DeliveryWorker(
            runtime.sessions, runtime.settings, runtime.clock, limiter=InMemoryRateLimiter()
        )
        self.consumer = AlertConsumer(
            runtime.sessions, runtime.bus, runtime.clock, on_recorded=self._queued
        )
        self.prices = PriceWatcher(
            runtime.sessions, runtime.bus, runtime.clock, on_recorded=self._queued
        )
        self._tasks: list[asyncio.Task[None]] = []

    async def _queued(self, recorded: list[Recorded]) -> None:
        if any(r.deliveries for r in recorded):
            self.delivery.wake()

    async def start(self) -> None:
        await self.consumer.start()
        await self.prices.start()
        self._tasks = [
            asyncio.create_task(self.delivery.run(), name="alerts-delivery"),
            asyncio.create_task(self._purge(), name="alerts-purge"),
        ]

    async def _purge(self) -> None:
        while True:
            try:
                s = self.runtime.settings
                await purge_history(
                    self.runtime.sessions, self.runtime.clock.now(), s.alerts_retention_days
                )
            except Exception:
                log.warning("purging old alerts failed", exc_info=True)
            await asyncio.sleep(PURGE_EVERY_S)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.prices.stop()
        await self.consumer.stop()


async def start(runtime: Runtime) -> AlertsService:
    service = AlertsService(runtime)
    await service.start()
    return service
