"""The paper broker's order book: resting orders matched against live ticks.

One matcher serves every paper account. Orders are keyed by
``(user_id, client_order_id)``. A tick only fills orders accepted strictly
before it (the tick that led to an order never fills it), in time priority.
Ticks outside the symbol's session fill nothing. Expiries (IOC remainder,
session end, MIS square-off) are applied by ``advance``, which every tick calls
first; call it from a timer too so that orders lapse when ticks stop.

The matcher keeps no state that is not in the orders it was given, so a
restarted service rebuilds it with ``load(working_orders)``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal

from shared.contracts import OrderStatus, OrderType, Validity
from shared.errors import Conflict, NotFound
from shared.instruments import Instrument
from shared.market_status import closed_message

from ..fills import Fill
from ..instruments import SessionCalendar
from ..money import ZERO, floor_to_step, to_decimal
from ..orders import Order, OrderKey, validate_order
from .book import Resting, SymbolBook
from .events import (
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
    PaperEvent,
)
from .fill_model import FillModel, is_triggered, limit_price
from .sessions import expiry_of

IOC_UNFILLED = "ioc_unfilled"
_STOPS = (OrderType.SL, OrderType.SL_M)


class DuplicateOrder(Conflict):
    """An order with this (user, client order id) is already at the paper broker."""

    code = "duplicate_order"


class UnknownOrder(NotFound):
    """No working order with this key at the paper broker."""

    code = "unknown_order"


class PaperMatcher:
    """Resting paper orders of all accounts; ``on_tick`` turns ticks into fills and expiries."""

    def __init__(
        self,
        instruments: Callable[[str], Instrument],
        fill_model: FillModel | None = None,
    ) -> None:
        self._instruments = instruments
        self.fill_model = fill_model if fill_model is not None else FillModel()
        self._orders: dict[OrderKey, Resting] = {}
        self._by_symbol: dict[str, SymbolBook] = {}
        self._expiries: list[tuple[datetime, int, OrderKey, str]] = []
        self._priority = 0

    # -- orders in -------------------------------------------------------

    def submit(self, order: Order, ts: datetime) -> list[PaperEvent]:
        """Take a SUBMITTED order at ``ts``: accepted (OPEN) or rejected."""
        if order.status is not OrderStatus.SUBMITTED:
            raise ValueError(f"only SUBMITTED orders can be sent, not {order.status}")
        if order.key in self._orders:
            raise DuplicateOrder(f"order {order.client_order_id} is already at the broker")
        instrument = self._instruments(order.symbol)
        calendar = instrument.calendar()
        errors = validate_order(order, instrument)
        if errors:
            return [self._reject(order, ts, errors[0].code, errors[0].message)]
        if not calendar.is_open(ts):
            return [self._reject(order, ts, "market_closed", closed_message(calendar, ts))]
        opened = order.with_status(OrderStatus.OPEN, ts)
        self._rest(opened, ts, instrument, calendar)
        return [OrderAccepted(opened, ts)]

    def load(self, orders: Iterable[Order]) -> None:
        """Reinstate working orders (OPEN or PARTIALLY_FILLED) from storage after a restart."""
        for order in sorted(orders, key=lambda o: o.submitted_at or o.created_at):
            if not order.is_working:
                raise ValueError(f"only working orders can be loaded, not {order.status}")
            if order.key in self._orders:
                raise DuplicateOrder(f"order {order.client_order_id} is already at the broker")
            instrument = self._instruments(order.symbol)
            accepted_at = order.submitted_at or order.created_at
            self._rest(order, accepted_at, instrument, instrument.calendar())

    def forget(self, keep: Callable[[Order], bool]) -> int:
        """Take out of the book, without an event, every order ``keep`` says no to (orders
        another owner now serves); returns how many."""
        gone = [key for key, resting in self._orders.items() if not keep(resting.order)]
        for key in gone:
            self._remove(key)
        return len(gone)

    def cancel(self, key: OrderKey, ts: datetime) -> list[PaperEvent]:
        """Cancel a working order; raises ``UnknownOrder`` if there is none with ``key``."""
        resting = self._orders.get(key)
        if resting is None:
            raise UnknownOrder(f"no working order {key[1]}")
        self._remove(key)
        cancelled = resting.order.with_status(OrderStatus.CANCELLED, ts)
        return [OrderCancelled(cancelled, ts)]

    # -- time and ticks --------------------------------------------------

    def advance(self, ts: datetime) -> list[PaperEvent]:
        """Expire every order whose session (or MIS window) ended at or before ``ts``.

        Each expiry is stamped with the time it was due, not with ``ts``.
        """
        events: list[PaperEvent] = []
        while self._expiries and self._expiries[0][0] <= ts:
            expires_at, priority, key, reason = heapq.heappop(self._expiries)
            resting = self._orders.get(key)
            if resting is not None and resting.priority == priority:
                self._remove(key)
                events.append(self._expire(resting.order, expires_at, reason))
        return events

    def on_tick(
        self,
        symbol: str,
        ts: datetime,
        price: Decimal | float,
        qty: Decimal | float = ZERO,
    ) -> list[PaperEvent]:
        """Advance to ``ts``, then match the symbol's resting orders against this tick."""
        events = self.advance(ts)
        book = self._by_symbol.get(symbol)
        if not book:
            return events
        first = next(iter(book.orders.values()))
        if not first.calendar.is_open(ts):
            return events
        tick_price = to_decimal(price)
        available = self.fill_model.available(to_decimal(qty))
        for resting in book.candidates(tick_price):
            if ts <= resting.accepted_at:
                continue
            was_triggered = resting.order.triggered_at is not None
            new_events, used = self._match(resting, ts, tick_price, available)
            events += new_events
            if available is not None:
                available -= used
            if resting.order.is_terminal:
                self._remove(resting.order.key)
            elif not was_triggered and resting.order.triggered_at is not None:
                book.reindex(resting)
        return events

    # -- lookups ---------------------------------------------------------

    def get(self, key: OrderKey) -> Order | None:
        """The working order with ``key`` as the broker sees it (for reconciliation)."""
        resting = self._orders.get(key)
        return resting.order if resting is not None else None

    def working(self, symbol: str | None = None) -> list[Order]:
        """Working orders in time priority, of one symbol or all."""
        if symbol is None:
            source = list(self._orders.values())
        else:
            book = self._by_symbol.get(symbol)
            source = list(book.orders.values()) if book is not None else []
        return [r.order for r in sorted(source, key=lambda r: r.priority)]

    def __len__(self) -> int:
        return len(self._orders)

    # -- internals -------------------------------------------------------

    def _match(
        self, resting: Resting, ts: datetime, price: Decimal, available: Decimal | None
    ) -> tuple[list[PaperEvent], Decimal]:
        order = resting.order
        events: list[PaperEvent] = []
        if order.order_type in _STOPS and order.triggered_at is None:
            assert order.trigger_price is not None  # validated on submit
            if not is_triggered(order.side, order.trigger_price, price):
                return self._ioc_lapse(resting, ts, events), ZERO
            order = resting.order = order.with_trigger(ts)
            events.append(OrderTriggered(order, ts, price))
        fill_price = self._fill_price(order, resting.instrument, price)
        used = ZERO
        if fill_price is not None:
            quantity = order.remaining_quantity
            if available is not None:
                quantity = min(quantity, floor_to_step(available, resting.instrument.lot_size))
            if quantity > 0:
                events.append(self._fill(resting, quantity, fill_price, ts))
                used = quantity
        return self._ioc_lapse(resting, ts, events), used

    def _fill_price(self, order: Order, instrument: Instrument, price: Decimal) -> Decimal | None:
        if order.order_type in (OrderType.MARKET, OrderType.SL_M):
            return self.fill_model.market_price(order.side, price, instrument.tick_size)
        assert order.limit_price is not None  # validated on submit
        return limit_price(order.side, order.limit_price, price)

    def _fill(
        self, resting: Resting, quantity: Decimal, price: Decimal, ts: datetime
    ) -> OrderFilled:
        before = resting.order
        filled = resting.order = before.with_fill(quantity, price, ts)
        fill = Fill(
            user_id=before.user_id,
            client_order_id=before.client_order_id,
            seq=filled.fill_count,
            symbol=before.symbol,
            side=before.side,
            product=before.product,
            quantity=quantity,
            price=price,
            ts=ts,
            order_turnover_before=before.filled_value,
        )
        return OrderFilled(filled, ts, fill)

    def _ioc_lapse(
        self, resting: Resting, ts: datetime, events: list[PaperEvent]
    ) -> list[PaperEvent]:
        """An IOC order gets one tick: whatever it did not fill on it lapses."""
        if resting.order.validity is Validity.IOC and not resting.order.is_terminal:
            resting.order = resting.order.with_status(
                OrderStatus.EXPIRED, ts, reason_code=IOC_UNFILLED
            )
            events.append(OrderExpired(resting.order, ts, IOC_UNFILLED))
        return events

    def _rest(
        self, order: Order, accepted_at: datetime, instrument: Instrument, calendar: SessionCalendar
    ) -> None:
        self._priority += 1
        resting = Resting(order, self._priority, accepted_at, instrument, calendar)
        self._orders[order.key] = resting
        self._by_symbol.setdefault(order.symbol, SymbolBook()).add(resting)
        expires_at, reason = expiry_of(order, calendar, accepted_at)
        heapq.heappush(self._expiries, (expires_at, self._priority, order.key, reason))

    def _remove(self, key: OrderKey) -> None:
        resting = self._orders.pop(key)
        book = self._by_symbol[resting.order.symbol]
        book.remove(key)
        if not book:
            del self._by_symbol[resting.order.symbol]

    @staticmethod
    def _expire(order: Order, ts: datetime, reason: str) -> OrderExpired:
        expired = order.with_status(OrderStatus.EXPIRED, ts, reason_code=reason)
        return OrderExpired(expired, ts, reason)

    @staticmethod
    def _reject(order: Order, ts: datetime, code: str, message: str) -> OrderRejected:
        rejected = order.with_status(OrderStatus.REJECTED, ts, reason_code=code, reason=message)
        return OrderRejected(rejected, ts, code, message)
