"""Control events -> subscription cache invalidation, in whichever process evaluates."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from shared.bus import EventBus, Subscription
from shared.contracts import CHANNEL_CONTROL, ControlEvent
from strategy_workers.subscriptions import SubscriptionCache

log = logging.getLogger(__name__)


class ControlListener:
    """Reloads a subscription when the gateway says it changed.

    Pub/sub may drop a message (a reconnect, a full queue); the cache's periodic
    full reload bounds how long a missed change goes unseen.
    """

    def __init__(self, bus: EventBus, cache: SubscriptionCache) -> None:
        self._bus = bus
        self._cache = cache
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe; returns once events published from now on will be seen."""
        self._sub = await self._bus.subscribe([CHANNEL_CONTROL])
        self._task = asyncio.create_task(self._run(self._sub), name="strategy-control")

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, sub: Subscription) -> None:
        async for _, message in sub:
            if isinstance(message, ControlEvent) and message.action == "subscription_changed":
                self._cache.invalidate(message.subscription_id)
                log.debug("subscription %s changed", message.subscription_id)
