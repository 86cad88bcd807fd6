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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import cast

from order_processor.config import DEFAULT_OPTIONS, ProcessorOptions
from shared.bus import EventBus, StreamEntry
from shared.contracts import GROUP_ORDER_PROCESSOR, OrderCommand, OrderIntent
from shared.errors import DomainError
from shared.logs import correlation

log = logging.getLogger(__name__)

CATCH_UP_CLAIM_EVERY_S = 0.5
"""How often a consumer that took a partition over claims what is pending there, until its
last owner can no longer be reading it."""

IntentHandler = Callable[[OrderIntent | OrderCommand], Awaitable[None]]
BatchHandler = Callable[[Sequence[OrderIntent]], Awaitable[Mapping[int, DomainError]]]
"""Handles many intents in one transaction; returns the ones refused for good, by index."""


class IntentConsumer:
    """Feeds stream entries to the handlers.

    Consecutive intents of a read go to ``batch_handler`` (when given) in groups of
    accounts, ``options.concurrency`` groups at a time, each group one transaction;
    an account's intents stay in stream order within their group. Should a group
    fail as a whole, its intents are handled one by one, so one bad entry cannot
    hold up the others. Commands (and intents without a batch handler) go to
    ``handler``, ``options.concurrency`` at a time.
    """

    def __init__(
        self,
        bus: EventBus,
        handler: IntentHandler,
        options: ProcessorOptions = DEFAULT_OPTIONS,
        *,
        stream: str,
        group: str = GROUP_ORDER_PROCESSOR,
        batch_handler: BatchHandler | None = None,
        take_over: bool = False,
    ) -> None:
        self.bus = bus
        self.handler = handler
        self.batch_handler = batch_handler
        self.take_over = take_over
        """Claim every pending entry at once when starting (the partition changed hands: its
        last owner is fenced off, so what it held need not wait to look idle)."""
        self.options = options
        self.stream = stream
        self.group = group
        self.handled = 0
        self.refused = 0
        self._slots = asyncio.Semaphore(options.concurrency)

    async def run(self) -> None:
        """Read, handle and acknowledge until cancelled; claim stale entries now and then."""
        await self.bus.ensure_group(self.stream, self.group)
        opts = self.options
        next_claim = 0.0
        # After a takeover the last owner, fenced off but perhaps not aware of it yet, may
        # still read entries until its next lease renewal: for a lease's life, whatever is
        # pending is claimed at once, often (its handling there cannot commit; waiting for
        # it to look idle would hold those orders ``claim_idle_ms``).
        catch_up_until = time.monotonic() + opts.lease_ttl_s + opts.lease_renew_every_s
        if not self.take_over:
            catch_up_until = 0.0
        while True:
            now = time.monotonic()
            if now >= next_claim:
                catching_up = now < catch_up_until
                every = opts.claim_every_s
                if catching_up:
                    every = min(every, CATCH_UP_CLAIM_EVERY_S)
                next_claim = now + every
                await self.handle(await self._claim(0 if catching_up else opts.claim_idle_ms))
            entries = await self.bus.read_group(
                self.stream,
                self.group,
                self.options.consumer,
                count=self.options.read_count,
                block_ms=self.options.read_block_ms,
            )
            await self.handle(entries)

    async def _claim(self, idle_ms: int) -> list[StreamEntry]:
        claimed = await self.bus.claim_stale(
            self.stream,
            self.group,
            self.options.consumer,
            idle_ms,
            count=self.options.read_count,
        )
        if claimed:
            log.info("claimed %d intents left by a stopped consumer", len(claimed))
        return claimed

    async def handle(self, entries: Sequence[StreamEntry]) -> None:
        """Handle a batch; acknowledge the entries whose effect is committed (or is refused)."""
        if not entries:
            return
        done: list[bool] = []
        start = 0
        while start < len(entries):  # runs of intents, and of other entries, in stream order
            intents = self.batch_handler is not None and _is_intent(entries[start])
            end = start + 1
            while end < len(entries) and _is_intent(entries[end]) == intents:
                end += 1
            run = entries[start:end]
            if intents:
                done += await self._batched(run)
            else:
                done += await asyncio.gather(*(self._one(e) for e in run))
            start = end
        ids = [e.id for e, ok in zip(entries, done, strict=True) if ok]
        if ids:
            await self.bus.ack(self.stream, self.group, ids)

    async def _batched(self, run: Sequence[StreamEntry]) -> list[bool]:
        """Intents in groups of accounts (an account's intents in one group, in order)."""
        # Groups of at least ``batch_min`` intents: a transaction per handful of intents
        # would cost more round trips than running them side by side saves.
        width = max(1, min(self.options.concurrency, len(run) // self.options.batch_min))
        groups: dict[int, list[int]] = {}
        for index, entry in enumerate(run):
            assert isinstance(entry.message, OrderIntent)
            groups.setdefault(entry.message.broker_account_id % width, []).append(index)
        done = [False] * len(run)
        outcomes = await asyncio.gather(
            *(self._group([run[i] for i in members]) for members in groups.values())
        )
        for members, outcome in zip(groups.values(), outcomes, strict=True):
            for i, ok in zip(members, outcome, strict=True):
                done[i] = ok
        return done

    async def _group(self, entries: Sequence[StreamEntry]) -> list[bool]:
        assert self.batch_handler is not None
        intents = [e.message for e in entries]
        try:
            # One intent: every line of its handling carries its correlation id (a batch's
            # lines are shared; each intent's own line follows).
            only = cast(OrderIntent, intents[0]).correlation_id if len(intents) == 1 else None
            with correlation(only):
                refused = await self.batch_handler(intents)  # type: ignore[arg-type]
        except Exception:
            if len(entries) == 1:
                log.exception("%s failed; it stays pending", _name(intents[0]))  # type: ignore[arg-type]
                return [False]
            log.warning("a batch of %d intents failed; handling them one by one", len(entries))
            return [await self._one(e) for e in entries]
        logged = log.isEnabledFor(logging.INFO)  # else no line, and no context to set
        for index, intent in enumerate(cast(list[OrderIntent], intents)):
            if index in refused:
                with correlation(intent.correlation_id):
                    self._refused(intent, refused[index])
            elif logged:
                with correlation(intent.correlation_id):
                    log.info("%s handled", _name(intent), extra=_fields(intent))
        self.handled += len(entries) - len(refused)
        return [True] * len(entries)

    def _refused(self, message: OrderIntent | OrderCommand, exc: DomainError) -> None:
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

    async def _one(self, entry: StreamEntry) -> bool:
        message = entry.message
        if not isinstance(message, OrderIntent | OrderCommand):
            log.error("ignoring %s on the intent stream", type(message).__name__)
            return True
        async with self._slots:
            with correlation(message.correlation_id):  # every line of its handling carries it
                try:
                    await self.handler(message)
                except DomainError as exc:
                    self._refused(message, exc)
                    return True
                except Exception:
                    # Left pending: the database or the broker was away; claimed again later.
                    log.exception("%s failed; it stays pending", _name(message))
                    return False
                log.info("%s handled", _name(message), extra=_fields(message))
        self.handled += 1
        return True


def _fields(message: OrderIntent | OrderCommand) -> dict[str, object]:
    """The fields of a message's log line (JSON logs: searchable)."""
    if isinstance(message, OrderIntent):
        return {"user_id": message.user_id, "client_order_id": message.client_order_id}
    return {"user_id": message.user_id, "order_id": message.order_id}


def _is_intent(entry: StreamEntry) -> bool:
    return isinstance(entry.message, OrderIntent)


def _name(message: OrderIntent | OrderCommand) -> str:
    if isinstance(message, OrderIntent):
        return f"intent {message.client_order_id}"
    return f"{message.action} of order {message.order_id}"
