"""The one interface every market data feed offers: an async iterator of ``TickBatch``."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from types import TracebackType
from typing import Self

from market_data_engine.ticks import TickBatch


class Feed(ABC):
    """A source of ticks.

    Use it as ``async with feed: async for batch in feed: ...`` or call ``start()`` and
    ``stop()`` yourself. Iteration ends when the source is exhausted (a replay file) or the
    feed is stopped; batches are never empty. ``stop()`` may be called from another task,
    and wakes a feed that is sleeping or waiting for the network.
    """

    def __init__(self, name: str, symbols: Sequence[str]) -> None:
        self.name = name
        self.symbols: tuple[str, ...] = tuple(symbols)
        self._stop_event = asyncio.Event()
        self._started = False
        self._iterators: weakref.WeakSet[AsyncGenerator[TickBatch, None]] = weakref.WeakSet()

    @property
    def running(self) -> bool:
        return self._started and not self._stop_event.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    async def start(self) -> None:
        """Open the source (connect, load files); iterating calls this if you did not."""
        if self._started:
            return
        self._stop_event.clear()
        await self._open()
        self._started = True

    async def stop(self) -> None:
        """Stop producing ticks and release the source; safe to call twice."""
        self._stop_event.set()
        if self._started:
            self._started = False
            await self._close()
        # A consumer that broke out of ``async for`` leaves its iterator suspended; close it
        # now rather than at garbage collection, so connections and files are released.
        for it in list(self._iterators):
            with contextlib.suppress(RuntimeError):  # running in another task: it will see stop
                await it.aclose()

    def __aiter__(self) -> AsyncIterator[TickBatch]:
        it = self._iterate()
        self._iterators.add(it)
        return it

    async def _iterate(self) -> AsyncGenerator[TickBatch, None]:
        await self.start()
        stream = self._stream()
        try:
            async for batch in stream:
                if self._stop_event.is_set():
                    return
                if len(batch):
                    yield batch
        finally:
            await stream.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped first; True if the feed was stopped meanwhile."""
        if seconds <= 0:
            await asyncio.sleep(0)  # still yield to the loop so a busy feed stays fair
            return self._stop_event.is_set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_event.wait(), timeout=seconds)
        return self._stop_event.is_set()

    async def _open(self) -> None:  # noqa: B027 - optional hook, most feeds need nothing
        """Acquire resources before the first batch."""

    async def _close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; called once by ``stop()``."""

    @abstractmethod
    def _stream(self) -> AsyncGenerator[TickBatch, None]:
        """Yield batches until the source ends or ``stopping`` becomes true."""
