"""The event bus interface: pub/sub for data that may drop, streams for data that must arrive.

Two adapters implement it: ``InProcessEventBus`` (embedded profile, one
process) and ``RedisEventBus`` (distributed profile). See docs/event-bus.md.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from shared.contracts import Message

DEFAULT_SUBSCRIPTION_MAXSIZE = 10_000
FORGET_CONSUMERS_AFTER_S = 3_600.0
"""A stream consumer given no entry this long, holding none pending, leaves its group."""


class BusUnavailable(ConnectionError):
    """The bus could not carry out a write (append, ensure_group) within its retry deadline."""


class NoGroup(LookupError):
    """A stream operation named a consumer group that was never created with ``ensure_group``."""

    def __init__(self, stream: str, group: str) -> None:
        super().__init__(
            f"no consumer group {group!r} on stream {stream!r}; call ensure_group first"
        )
        self.stream = stream
        self.group = group


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One entry read from a stream: its id (``"<ms>-<seq>"``, for ``ack``) and its message."""

    id: str
    message: Message


class Subscription:
    """Messages of some channels and patterns, in arrival order, through a bounded queue.

    Iterate with ``async for channel, message in subscription``; iteration ends
    after ``close()``. When the consumer falls behind by ``maxsize`` messages,
    the oldest is dropped and counted in ``dropped``: pub/sub data may drop,
    a slow reader must never slow the publisher or other subscribers.
    Adapters feed it through ``offer`` from the event loop's thread.
    """

    def __init__(
        self,
        channels: Sequence[str],
        patterns: Sequence[str],
        *,
        maxsize: int = DEFAULT_SUBSCRIPTION_MAXSIZE,
        on_close: Callable[[Subscription], Awaitable[None]] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.channels: tuple[str, ...] = tuple(dict.fromkeys(channels))
        self.patterns: tuple[str, ...] = tuple(dict.fromkeys(patterns))
        self.maxsize = maxsize
        self.dropped = 0
        self.delivered = 0
        self._items: deque[tuple[str, Message]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._on_close = on_close

    @property
    def closed(self) -> bool:
        return self._closed

    def qsize(self) -> int:
        """Messages queued and not yet read."""
        return len(self._items)

    def offer(self, channel: str, message: Message) -> None:
        """Queue a message without waiting; the oldest is dropped when the queue is full."""
        if self._closed:
            return
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append((channel, message))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def offer_many(self, items: Sequence[tuple[str, Message]]) -> None:
        """``offer`` each (channel, message) in order, waking the reader once."""
        if self._closed or not items:
            return
        queue = self._items
        queue.extend(items)
        excess = len(queue) - self.maxsize
        if excess > 0:
            self.dropped += excess
            for _ in range(excess):
                queue.popleft()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> tuple[str, Message]:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self.delivered += 1
        return self._items.popleft()

    async def get(self, wait: float | None = None) -> tuple[str, Message] | None:
        """The next (channel, message), or None after ``wait`` seconds or once closed."""
        try:
            async with asyncio.timeout(wait):
                return await self.__anext__()
        except (TimeoutError, StopAsyncIteration):
            return None

    async def close(self) -> None:
        """Stop receiving; queued messages are discarded and iteration ends."""
        if self._closed:
            return
        self._closed = True
        self._items.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._on_close is not None:
            await self._on_close(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


@runtime_checkable
class EventBus(Protocol):
    """Async message bus; every method is safe to call concurrently from one event loop.

    Pub/sub (``publish``/``subscribe``) is at-most-once fan-out: a subscriber
    that is not connected, or too slow, misses messages. Streams
    (``append``/``read_group``/``ack``/``claim_stale``) are durable and
    at-least-once per consumer group: an entry stays pending until acked and
    is handed to another consumer if its reader dies, so effects must be
    idempotent (e.g. keyed by ``client_order_id``).
    """

    async def publish(self, channel: str, message: Message) -> None:
        """Send to current subscribers of ``channel``; never raises for a lost connection."""
        ...

    async def publish_many(self, items: Sequence[tuple[str, Message]]) -> None:
        """``publish`` many (channel, message) pairs in one round trip, in order."""
        ...

    async def subscribe(
        self,
        channels: Sequence[str],
        patterns: Sequence[str] = (),
        *,
        maxsize: int = DEFAULT_SUBSCRIPTION_MAXSIZE,
    ) -> Subscription:
        """Receive messages of ``channels`` and of channels matching glob ``patterns``.

        Returns once the subscription is active, so a message published after
        this call returns is delivered. A channel named and also matched by a
        pattern is delivered once per match, as Redis does.
        """
        ...

    async def append(self, stream: str, message: Message, maxlen: int | None = None) -> str:
        """Add to ``stream`` (keeping at least the last ``maxlen`` entries); returns the id."""
        ...

    async def append_many(
        self, stream: str, messages: Sequence[Message], maxlen: int | None = None
    ) -> list[str]:
        """``append`` many messages in one round trip, in order; returns their ids."""
        ...

    async def ensure_group(self, stream: str, group: str, start_id: str = "0") -> None:
        """Create ``group`` (and the stream) if missing; by default it reads from the start."""
        ...

    async def read_group(
        self,
        stream: str,
        group: str,
        consumer: str,
        count: int = 100,
        block_ms: int = 1000,
    ) -> list[StreamEntry]:
        """New entries for ``consumer``, waiting up to ``block_ms`` (0: do not wait).

        Each entry is pending for ``consumer`` until acked. Returns ``[]`` on
        timeout and also while the backend is unreachable (logged, backed off).
        """
        ...

    async def ack(self, stream: str, group: str, ids: Sequence[str]) -> int:
        """Mark entries processed; returns how many were pending."""
        ...

    async def claim_stale(
        self,
        stream: str,
        group: str,
        consumer: str,
        min_idle_ms: int,
        count: int = 100,
    ) -> list[StreamEntry]:
        """Take over entries pending at least ``min_idle_ms`` (their reader is presumed dead).

        Then consumers that have been given no entry for the adapter's
        ``forget_consumers_after_s`` (an hour by default, and at least ``min_idle_ms``)
        and hold none pending are removed from the group, so the names of stopped
        processes do not stay in it forever; one that was only quiet comes back with the
        next entry it reads.
        """
        ...

    async def consumers(self, stream: str, group: str) -> dict[str, int]:
        """The group's consumers and how many entries each holds pending."""
        ...

    async def pending_count(self, stream: str, group: str) -> int:
        """Entries delivered to the group and not yet acked."""
        ...

    async def ping(self) -> bool:
        """True when the bus can carry messages now."""
        ...

    async def close(self) -> None:
        """Close every subscription and release connections."""
        ...
