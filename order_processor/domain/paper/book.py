"""Resting paper orders of one symbol, indexed by price so a tick touches only what it can fill.

Limit prices and untriggered stop triggers sit on four sorted ladders; a tick
finds the orders it crosses with a binary search instead of visiting every
order. Orders that act on any tick (market, IOC, triggered SL-M) sit apart.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shared.contracts import OrderType, Side, Validity
from shared.instruments import Instrument

from ..instruments import SessionCalendar
from ..orders import Order, OrderKey

_Rung = tuple[Decimal, int, OrderKey]
_STOPS = (OrderType.SL, OrderType.SL_M)


@dataclass(slots=True)
class Resting:
    """An order at the paper broker, with what matching needs alongside it."""

    order: Order
    priority: int
    accepted_at: datetime
    instrument: Instrument
    calendar: SessionCalendar


def _ladder_of(order: Order) -> tuple[str, Decimal] | None:
    """Which ladder an order rests on and at what price; None if any tick may fill it."""
    if order.validity is Validity.IOC:
        return None
    if order.order_type in _STOPS and order.triggered_at is None:
        assert order.trigger_price is not None
        return ("buy_stop" if order.side is Side.BUY else "sell_stop"), order.trigger_price
    if order.order_type in (OrderType.LIMIT, OrderType.SL):
        assert order.limit_price is not None
        return ("buy_limit" if order.side is Side.BUY else "sell_limit"), order.limit_price
    return None


class SymbolBook:
    """Resting orders of one symbol."""

    def __init__(self) -> None:
        self.orders: dict[OrderKey, Resting] = {}
        self._any_tick: dict[OrderKey, Resting] = {}
        self._ladders: dict[str, list[_Rung]] = {
            "buy_limit": [],
            "sell_limit": [],
            "buy_stop": [],
            "sell_stop": [],
        }
        self._placed: dict[OrderKey, tuple[str, _Rung] | None] = {}

    def __len__(self) -> int:
        return len(self.orders)

    def add(self, resting: Resting) -> None:
        key = resting.order.key
        self.orders[key] = resting
        self._place(resting)

    def remove(self, key: OrderKey) -> Resting:
        resting = self.orders.pop(key)
        self._unplace(key)
        return resting

    def reindex(self, resting: Resting) -> None:
        """Move an order whose ladder may have changed (a stop that triggered)."""
        self._unplace(resting.order.key)
        self._place(resting)

    def candidates(self, price: Decimal) -> list[Resting]:
        """Orders this tick price may trigger or fill, in time priority."""
        ladders = self._ladders
        rungs = _at_or_above(ladders["buy_limit"], price) + _at_or_above(
            ladders["sell_stop"], price
        )
        rungs += _at_or_below(ladders["sell_limit"], price) + _at_or_below(
            ladders["buy_stop"], price
        )
        found = [self.orders[key] for _, _, key in rungs]
        found += self._any_tick.values()
        found.sort(key=lambda r: r.priority)
        return found

    def _place(self, resting: Resting) -> None:
        key = resting.order.key
        spot = _ladder_of(resting.order)
        if spot is None:
            self._any_tick[key] = resting
            self._placed[key] = None
            return
        name, price = spot
        rung = (price, resting.priority, key)
        bisect.insort(self._ladders[name], rung)
        self._placed[key] = (name, rung)

    def _unplace(self, key: OrderKey) -> None:
        placed = self._placed.pop(key)
        if placed is None:
            del self._any_tick[key]
            return
        name, rung = placed
        ladder = self._ladders[name]
        del ladder[bisect.bisect_left(ladder, rung)]


def _at_or_above(ladder: list[_Rung], price: Decimal) -> list[_Rung]:
    """Rungs priced at or above ``price`` (a buy limit or sell stop this tick crosses)."""
    return ladder[bisect.bisect_left(ladder, (price,)) :]


def _at_or_below(ladder: list[_Rung], price: Decimal) -> list[_Rung]:
    """Rungs priced at or below ``price`` (a sell limit or buy stop this tick crosses)."""
    return ladder[: bisect.bisect_right(ladder, (price, math.inf))]
