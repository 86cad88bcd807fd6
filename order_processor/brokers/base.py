"""The broker adapter interface. Orders are addressed by their key (user, client order id).

A call returns the events it caused at once (accepted, rejected, cancelled...);
later events (fills, expiries) reach the listener set with ``listen``. Events
carry the order as the broker sees it after the event (the paper matcher's
event types are the vocabulary every adapter speaks).

Failure semantics the processor relies on:

- ``BrokerUnavailable``: the request certainly did not reach the broker; it
  may be sent again.
- ``BrokerRejected``: the broker refused the request.
- anything else, a timeout above all: the request may or may not have arrived.
  The order becomes UNKNOWN and is reconciled with ``status``; it is never
  simply sent again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from order_processor.domain.orders import Order, OrderKey
from order_processor.domain.paper.events import PaperEvent

BrokerEvent = PaperEvent
EventListener = Callable[[Sequence[BrokerEvent]], Awaitable[None]]


class BrokerUnavailable(ConnectionError):
    """The broker could not be reached; nothing was sent."""


class BrokerRejected(Exception):
    """The broker refused a request (a cancel of an order it no longer holds, say)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@runtime_checkable
class BrokerAdapter(Protocol):
    name: str
    in_process: bool
    """The broker's book lives in this process and answers at once (paper): the processor
    may call ``place`` inside the transaction that records the decision. A crash then
    loses the book and the decision together, so nothing can disagree."""

    def listen(self, listener: EventListener | None) -> None:
        """Where events that happen later (fills, expiries) are delivered."""

    async def place(self, order: Order) -> list[BrokerEvent]:
        """Send a SUBMITTED order; returns what the broker said straight away."""
        ...

    async def cancel(self, key: OrderKey) -> list[BrokerEvent]:
        """Cancel a working order; ``BrokerRejected`` if the broker holds no such order."""
        ...

    async def modify(self, order: Order) -> list[BrokerEvent]:
        """Change a working order's quantity or prices to those of ``order``."""
        ...

    async def status(self, key: OrderKey) -> Order | None:
        """The order as the broker knows it, or None if it never received it."""
        ...

    async def load(self, orders: Iterable[Order]) -> None:
        """Working orders the database holds, after a restart (paper: rebuild the book)."""

    def working_keys(self) -> list[tuple[OrderKey, Order]]:
        """Orders the adapter believes are working (to check against the database)."""
        ...

    def forget(self, keep: Callable[[Order], bool]) -> int:
        """Stop serving the orders ``keep`` says no to, without touching them at the broker
        (their accounts passed to another processor); returns how many (paper: they leave
        the book, which the new owner rebuilds from the database)."""
        ...

    async def on_tick(self, symbol: str, ts: datetime, price: Decimal, qty: Decimal) -> None:
        """A market tick (simulated brokers fill on it; live adapters ignore it)."""

    async def advance(self, now: datetime) -> None:
        """Time passed without ticks (simulated brokers expire orders)."""


class BrokerWrapper:
    """An adapter that forwards every call to ``inner``; override the calls to change."""

    def __init__(self, inner: BrokerAdapter) -> None:
        self.inner = inner
        self.name = inner.name
        self.in_process = inner.in_process

    def listen(self, listener: EventListener | None) -> None:
        self.inner.listen(listener)

    async def place(self, order: Order) -> list[BrokerEvent]:
        return await self.inner.place(order)

    async def cancel(self, key: OrderKey) -> list[BrokerEvent]:
        return await self.inner.cancel(key)

    async def modify(self, order: Order) -> list[BrokerEvent]:
        return await self.inner.modify(order)

    async def status(self, key: OrderKey) -> Order | None:
        return await self.inner.status(key)

    async def load(self, orders: Iterable[Order]) -> None:
        await self.inner.load(orders)

    def working_keys(self) -> list[tuple[OrderKey, Order]]:
        return self.inner.working_keys()

    def forget(self, keep: Callable[[Order], bool]) -> int:
        return self.inner.forget(keep)

    async def on_tick(self, symbol: str, ts: datetime, price: Decimal, qty: Decimal) -> None:
        await self.inner.on_tick(symbol, ts, price, qty)

    async def advance(self, now: datetime) -> None:
        await self.inner.advance(now)
