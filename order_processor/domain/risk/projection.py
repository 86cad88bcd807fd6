"""How an order changes the account, as the exposure checks see it."""

from __future__ import annotations

from decimal import Decimal

from shared.contracts import OrderType, Side

from ..money import ZERO
from ..orders import Order
from .base import AccountView


def order_price(order: Order, view: AccountView) -> Decimal | None:
    """The price the order is expected to trade at: limit, else trigger, else the last price."""
    if order.order_type in (OrderType.LIMIT, OrderType.SL) and order.limit_price is not None:
        return order.limit_price
    if order.order_type is OrderType.SL_M and order.trigger_price is not None:
        return order.trigger_price
    return view.last_price(order.symbol)


def same_side_working(order: Order, view: AccountView) -> Decimal:
    """Remaining quantity of the account's working orders in this symbol on this side."""
    return view.totals.quantity(order.symbol, order.side)


def is_risk_reducing(order: Order, view: AccountView) -> bool:
    """Whether the order only shrinks an existing position, without flipping it.

    Working orders on the same side count too: two sells that together would
    take a long position through zero are not both risk-reducing.
    """
    position = view.position_quantity(order.symbol)
    if position == 0 or (position > 0) == (order.sign > 0):
        return False
    return order.quantity + same_side_working(order, view) <= abs(position)


def projected_quantity(order: Order, view: AccountView) -> Decimal:
    """Signed position in the symbol if this order and the same-side working ones all fill."""
    pending = same_side_working(order, view)
    return view.position_quantity(order.symbol) + order.sign * (order.quantity + pending)


def exposure_increasing_commitment(view: AccountView) -> Decimal:
    """Notional of working orders that add to (or open) a position, at their price or the mark."""
    total = ZERO
    for symbol, side, priced, unpriced in view.totals.sides():
        position = view.position_quantity(symbol)
        if position != 0 and (position > 0) != (side is Side.BUY):
            continue
        total += priced
        if unpriced:
            mark = view.mark(symbol)
            if mark is not None:
                total += unpriced * mark
    return total


def margin_used(view: AccountView) -> Decimal:
    """Full notional of the open positions at their marks (the platform's simple margin rule)."""
    total = ZERO
    for p in view.positions.values():
        mark = view.mark(p.symbol)
        total += abs(p.quantity) * (mark if mark is not None else p.average_price)
    return total
