"""How much an exit closes: the one rule for strategy exits, liquidation and closing a position.

An exit takes the side opposite the position and closes the open quantity less
what closing orders already working (same side, same symbol and product) will
close, so two exits decided one after the other never take the position
through zero. Orders on the position's own side are not subtracted: they add to
the position only once they fill, and the next exit then sees that fill.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from shared.contracts import Side

from .money import ZERO


class WorkingQuantity(NamedTuple):
    """The side and unfilled quantity of an order still working in the position's symbol."""

    side: Side
    remaining: Decimal


class Closing(NamedTuple):
    """The order that closes (part of) a position: always opposite it, quantity above zero."""

    side: Side
    quantity: Decimal


def closing_side(position: Decimal) -> Side | None:
    """SELL closes a long, BUY a short; None when flat."""
    if position == 0:
        return None
    return Side.SELL if position > 0 else Side.BUY


def closing_order(
    position: Decimal, working: Iterable[WorkingQuantity], limit: Decimal | None = None
) -> Closing | None:
    """What closes ``position`` net of the working closing orders, at most ``limit``.

    ``working`` are the unfinished orders of the position's symbol and product.
    None when there is nothing left to close (flat, or covered by working exits).
    """
    side = closing_side(position)
    if side is None:
        return None
    covered = sum((w.remaining for w in working if w.side is side), ZERO)
    quantity = abs(position) - covered
    if limit is not None:
        quantity = min(quantity, limit)
    return Closing(side, quantity) if quantity > 0 else None


def opposes(position: Decimal, side: Side) -> bool:
    """Whether an order on ``side`` would reduce ``position`` (and could take it through zero)."""
    return closing_side(position) is side
