"""The paper broker: the domain ``PaperMatcher`` behind the broker adapter interface.

It holds the resting orders of every paper account in memory and fills them
against the ticks the processor feeds it. The database is the paper book of
record: the matcher keeps nothing that is not in the stored orders, so a
restarted processor rebuilds it with ``load``, and changes made through the
API (a cancel, a new limit price) are applied to the matcher when the
processor sees the stored order differ.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from order_processor.brokers.base import BrokerEvent, BrokerRejected, EventListener
from order_processor.catalog import TradingCatalog
from order_processor.domain.orders import Order, OrderKey
from order_processor.domain.paper import FillModel, PaperMatcher, UnknownOrder
from shared.clock import Clock

FINISHED_KEPT = 50_000  # finished orders remembered for status() (reconciling UNKNOWN ones)


class PaperBroker:
    """Simulated fills on live ticks; ``place`` answers at once (accepted or rejected)."""

    name = "paper"
    in_process = True

    def __init__(
        self,
        catalog: TradingCatalog,
        clock: Clock,
        fill_model: FillModel | None = None,
    ) -> None:
        self.clock = clock
        self.matcher = PaperMatcher(catalog.instrument, fill_model)
        self._listener: EventListener | None = None
        self._finished: OrderedDict[OrderKey, Order] = OrderedDict()

    def listen(self, listener: EventListener | None) -> None:
        self._listener = listener

    async def place(self, order: Order) -> list[BrokerEvent]:
        return self._remember(self.matcher.submit(order, self.clock.now()))

    async def cancel(self, key: OrderKey) -> list[BrokerEvent]:
        try:
            return self._remember(self.matcher.cancel(key, self.clock.now()))
        except UnknownOrder as exc:
            raise BrokerRejected("unknown_order", exc.message) from None

    async def modify(self, order: Order) -> list[BrokerEvent]:
        """Rest ``order``'s terms instead (fill history kept, time priority lost)."""
        if not order.is_working:
            raise BrokerRejected("not_working", f"order {order.client_order_id} is not working")
        if self.matcher.get(order.key) is not None:
            self.matcher.cancel(order.key, self.clock.now())
        self.matcher.load([order])
        return []

    async def status(self, key: OrderKey) -> Order | None:
        return self.matcher.get(key) or self._finished.get(key)

    async def load(self, orders: Iterable[Order]) -> None:
        self.matcher.load(o for o in orders if self.matcher.get(o.key) is None)

    def forget(self, keep: Callable[[Order], bool]) -> int:
        return self.matcher.forget(keep)

    def working_keys(self) -> list[tuple[OrderKey, Order]]:
        return [(o.key, o) for o in self.matcher.working()]

    async def on_tick(self, symbol: str, ts: datetime, price: Decimal, qty: Decimal) -> None:
        events = self.matcher.on_tick(symbol, ts, price, qty)
        if events:
            await self._deliver(events)

    async def advance(self, now: datetime) -> None:
        events = self.matcher.advance(now)
        if events:
            await self._deliver(events)

    async def _deliver(self, events: Sequence[BrokerEvent]) -> None:
        self._remember(events)
        if self._listener is not None:
            await self._listener(events)

    def _remember(self, events: Sequence[BrokerEvent]) -> list[BrokerEvent]:
        for event in events:
            if event.order.is_terminal:
                self._finished[event.order.key] = event.order
                while len(self._finished) > FINISHED_KEPT:
                    self._finished.popitem(last=False)
        return list(events)
