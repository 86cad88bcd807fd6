"""The order stream: read with a consumer group, handle, acknowledge after commit.

The stream carries intents (new orders) and commands (cancel or change an
order), in the order they were accepted. Delivery is at least once; the effect
is exactly once because every intent carries its idempotency key
(``client_order_id``): a redelivered intent finds its order and changes
nothing; a command finds its request carried out already. Entries of a consumer that died before
acknowledging are claimed back once they have been idle ``claim_idle_ms``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from order_processor.config import DEFAULT_OPTIONS, ProcessorOptions
from shared.bus import EventBus, StreamEntry
from shared.contracts import (
    GROUP_ORDER_PROCESSOR,
    STREAM_ORDER_INTENTS,
    OrderCommand,
    OrderIntent,
)
from shared.errors import DomainError

log = logging.getLogger(__name__)

IntentHandler = Callable[[OrderIntent | OrderCommand], Awaitable[None]]


class IntentConsumer:
    """Feeds stream entries to ``handler``, ``options.concurrency`` at a time."""

    def __init__(
        self,
        bus: EventBus,
        handler: IntentHandler,
        options: ProcessorOptions = DEFAULT_OPTIONS,
        *,
        stream: str = STREAM_ORDER_INTENTS,
        group: str = GROUP_ORDER_PROCESSOR,
    ) -> None:
        self.bus = bus
        self.handler = handler
        self.options = options
        self.stream = stream
        self.group = group
        self.handled = 0
        self.refused = 0
        self._slots = asyncio.Semaphore(options.concurrency)

    async def run(self) -> None:
        """Read, handle and acknowledge until cancelled; claim stale entries now and then."""
        await self.bus.ensure_group(self.stream, self.group)
        next_claim = 0.0
        while True:
            if time.monotonic() >= next_claim:
                next_claim = time.monotonic() + self.options.claim_every_s
                await self.handle(await self._claim())
            entries = await self.bus.read_group(
                self.stream,
                self.group,
                self.options.consumer,
                count=self.options.read_count,
                block_ms=self.options.read_block_ms,
            )
            await self.handle(entries)

    async def _claim(self) -> list[StreamEntry]:
        claimed = await self.bus.claim_stale(
            self.stream,
            self.group,
            self.options.consumer,
            self.options.claim_idle_ms,
            count=self.options.read_count,
        )
        if claimed:
            log.info("claimed %d intents left by a stopped consumer", len(claimed))
        return claimed

    async def handle(self, entries: Sequence[StreamEntry]) -> None:
        """Handle a batch; acknowledge the entries whose effect is committed (or is refused)."""
        if not entries:
            return
        done = await asyncio.gather(*(self._one(e) for e in entries))
        ids = [e.id for e, ok in zip(entries, done, strict=True) if ok]
        if ids:
            await self.bus.ack(self.stream, self.group, ids)

    async def _one(self, entry: StreamEntry) -> bool:
        message = entry.message
        if not isinstance(message, OrderIntent | OrderCommand):
            log.error("ignoring %s on the intent stream", type(message).__name__)
            return True
        async with self._slots:
            try:
                await self.handler(message)
            except DomainError as exc:
                # Refused for good (unknown account, malformed order, reused key): a retry
                # cannot succeed, so it is acknowledged and logged.
                self.refused += 1
                log.warning(
                    "%s of user %s refused: %s (%s)",
                    _name(message),
                    message.user_id,
                    exc.message,
                    exc.code,
                )
                return True
            except Exception:
                # Left pending: the database or the broker was away; claimed again later.
                log.exception("%s failed; it stays pending", _name(message))
                return False
        self.handled += 1
        return True


def _name(message: OrderIntent | OrderCommand) -> str:
    if isinstance(message, OrderIntent):
        return f"intent {message.client_order_id}"
    return f"{message.action} of order {message.order_id}"
