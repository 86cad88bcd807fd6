"""What one Celery worker process holds: clients, the evaluation service, a control listener.

Celery runs tasks as plain functions; the service is async. Each worker process
therefore runs one event loop on a background thread for its whole life: the
database pool, the Redis clients and the per-process caches (subscriptions,
windows, validated strategies) live on it across tasks, and the control
listener keeps receiving ``subscription_changed`` events between tasks.
Built lazily in the process that runs tasks (after a prefork fork, never
before).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import Any, TypeVar

from shared.bus import EventBus, create_event_bus
from shared.candle_cache import candle_cache_from_settings
from shared.config import Settings
from shared.contracts import CandleMsg
from shared.db import create_engine, create_sessionmaker
from strategy_workers.control import ControlListener
from strategy_workers.options import WorkerOptions
from strategy_workers.service import BatchOutcome, EvaluationService
from strategy_workers.subscriptions import SubscriptionCache

log = logging.getLogger(__name__)
T = TypeVar("T")


class WorkerRuntime:
    """The evaluation service of one worker process, on its own event loop thread."""

    def __init__(self, settings: Settings, options: WorkerOptions) -> None:
        self.settings = settings
        self.options = options
        self.pid = os.getpid()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="strategy-worker-loop", daemon=True
        )
        self._thread.start()
        self.service: EvaluationService
        self._bus: EventBus
        self._control: ControlListener
        self._call(self._open(), timeout=options.task_timeout)

    async def _open(self) -> None:
        engine = create_engine(self.settings)
        sessions = create_sessionmaker(engine)
        self._engine = engine
        self._bus = create_event_bus(self.settings)
        subscriptions = SubscriptionCache(
            sessions, refresh_seconds=self.options.subscription_refresh_seconds
        )
        self.service = EvaluationService(
            sessions=sessions,
            bus=self._bus,
            candle_cache=candle_cache_from_settings(self.settings),
            subscriptions=subscriptions,
            max_candle_age_bars=self.settings.strategy_max_candle_age_bars,
        )
        self._control = ControlListener(self._bus, subscriptions)
        await self._control.start()
        self._relay = asyncio.ensure_future(self.service.relay.run())

    def evaluate(self, candles: list[CandleMsg], closed_at: datetime | None = None) -> BatchOutcome:
        """Run one burst to completion (raises what the service raised)."""
        return self._call(
            self.service.handle(candles, closed_at), timeout=self.options.task_timeout
        )

    def close(self) -> None:
        """Stop listening, release connections, stop the loop thread."""
        try:
            self._call(self._close(), timeout=10)
        except Exception:
            log.exception("closing the strategy worker runtime failed")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _close(self) -> None:
        self._relay.cancel()
        await asyncio.gather(self._relay, return_exceptions=True)
        await self._control.stop()
        await self._bus.close()
        await self._engine.dispose()

    def _call(self, coro: Coroutine[Any, Any, T], *, timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(f"evaluation did not finish within {timeout:.0f}s") from None


_lock = threading.Lock()
_runtime: WorkerRuntime | None = None


def runtime_for(settings: Settings, options: WorkerOptions) -> WorkerRuntime:
    """This process's runtime, built on first use (a forked child builds its own)."""
    global _runtime
    with _lock:
        if _runtime is None or _runtime.pid != os.getpid():
            _runtime = WorkerRuntime(settings, options)
        return _runtime


def close_runtime() -> None:
    """Release this process's runtime, if it built one."""
    global _runtime
    with _lock:
        if _runtime is not None and _runtime.pid == os.getpid():
            _runtime.close()
        _runtime = None
