"""``algotrade serve alerts``: the alerts process of the distributed profile.

It turns bus events and ticks into alerts (the consumer and the price watcher, as in the
embedded profile) and hands each alert's deliveries to the Celery workers of the
``alerts`` queue (``analytics_service.alerts.tasks``): nothing on the event path waits
for a receiver. A sweep task now and then picks up deliveries whose task never reached
the broker; old history is purged once an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from celery import Celery
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from analytics_service.alerts import tasks
from analytics_service.alerts.consumer import AlertConsumer
from analytics_service.alerts.price_watch import PriceWatcher
from analytics_service.alerts.service import purge_history
from analytics_service.alerts.store import Recorded
from shared.bus import EventBus, create_event_bus
from shared.clock import Clock, SystemClock
from shared.config import Settings
from shared.db import create_engine, create_sessionmaker
from shared.probe_server import ProbeServer
from shared.readiness import bus_checks, database_check, redis_url_check
from shared.tasks import TaskSender, broker_url

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 15.0
PURGE_EVERY_S = 3600.0


class AlertsProcess:
    """The consumer and the price watcher, their deliveries queued as Celery tasks."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        clock: Clock,
        sender: TaskSender,
        *,
        sweep_every_s: float = SWEEP_EVERY_S,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.bus = bus
        self.clock = clock
        self.sender = sender
        self.sweep_every_s = sweep_every_s
        self.consumer = AlertConsumer(sessions, bus, clock, on_recorded=self._queued)
        self.prices = PriceWatcher(sessions, bus, clock, on_recorded=self._queued)
        self._tasks: list[asyncio.Task[None]] = []

    async def _queued(self, recorded: list[Recorded]) -> None:
        try:
            await asyncio.to_thread(tasks.enqueue, self.sender, recorded)
        except Exception:  # the sweep sends them: the rows are committed
            log.warning("queueing the deliveries of %d alerts failed", len(recorded), exc_info=True)

    async def start(self) -> None:
        await self.consumer.start()
        await self.prices.start()
        self._tasks = [
            asyncio.create_task(self._sweep(), name="alerts-sweep"),
            asyncio.create_task(self._purge(), name="alerts-purge"),
        ]

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_every_s)
            try:
                await asyncio.to_thread(tasks.send, self.sender, None, [])
            except Exception:
                log.warning("queueing the delivery sweep failed", exc_info=True)

    async def _purge(self) -> None:
        while True:
            try:
                days = self.settings.alerts_retention_days
                await purge_history(self.sessions, self.clock.now(), days)
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


def celery_sender(settings: Settings) -> Celery:
    """A Celery app that only sends tasks by name (no worker code needed)."""
    return Celery("alerts", broker=broker_url(settings), set_as_current=False)


def run(settings: Settings) -> None:
    asyncio.run(_serve(settings))


def probe_server(settings: Settings, engine: AsyncEngine, bus: EventBus) -> ProbeServer:
    """/health, /ready and /metrics on ALGOTRADE_ALERTS_PROBE_PORT."""
    checks = {
        "database": database_check(engine),
        "celery broker": redis_url_check(broker_url(settings)),
        **bus_checks(bus),
    }
    return ProbeServer(
        settings.probe_host,
        settings.alerts_probe_port,
        service="alerts",
        checks=checks,
        timeout_s=settings.ready_timeout_seconds,
    )


async def _serve(settings: Settings) -> None:
    engine = create_engine(settings)
    bus = create_event_bus(settings)
    process = AlertsProcess(
        settings, create_sessionmaker(engine), bus, SystemClock(), celery_sender(settings)
    )
    probe = probe_server(settings, engine, bus) if settings.alerts_probe_port else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await process.start()
    if probe is not None:
        await probe.start()
    log.info("alerts started")
    try:
        await stop.wait()
    finally:
        if probe is not None:
            await probe.stop()
        await process.stop()
        await bus.close()
        await engine.dispose()
