"""Positions from fills, by the weighted average cost method (what Indian brokers display).

A position keeps its signed quantity (+ long, - short) and the signed cost of
that open quantity (what was paid for a long, minus what was received for a
short). Adding in the same direction adds to the cost, so the average price is
the quantity-weighted mean. Reducing keeps the average price: the reduced part
releases its share of the cost and the difference to the fill price is realised
P&L. A fill larger than the position closes it and opens the rest in the other
direction at the fill price.

Cost, not the average price, is the stored quantity, and the released share is
worked out as ``cost_before - cost_after`` so that cost is conserved exactly:
realised + unrealised P&L always equals the cash flows plus the marked value.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from shared.contracts import Product

from .fills import Fill
from .money import COST_SCALE, ZERO
from .quick import quick_init

PositionKey = tuple[str, Product]
"""(symbol, product): intraday and delivery positions in one symbol are kept apart."""


@quick_init
@dataclass(frozen=True, slots=True)
class Position:
    """An open (or flat) position in one symbol and product."""

    symbol: str
    product: Product
    quantity: Decimal = ZERO
    cost: Decimal = ZERO
    realised_pnl: Decimal = ZERO

    @property
    def key(self) -> PositionKey:
        return (self.symbol, self.product)

    @property
    def is_open(self) -> bool:
        return self.quantity != 0

    @property
    def average_price(self) -> Decimal:
        """Weighted average cost of the open quantity (zero when flat)."""
        return self.cost / self.quantity if self.quantity else ZERO

    def market_value(self, mark: Decimal) -> Decimal:
        """Signed value at ``mark``: positive for a long, negative for a short."""
        return self.quantity * mark

    def unrealised_pnl(self, mark: Decimal) -> Decimal:
        return self.quantity * mark - self.cost

    def apply(self, signed_quantity: Decimal, price: Decimal) -> tuple[Position, Decimal]:
        """The position after a fill (+ buy, - sell) at ``price``, and the P&L it realised."""
        q = self.quantity
        if q == 0 or (q > 0) == (signed_quantity > 0):
            grown = Position(
                self.symbol,
                self.product,
                q + signed_quantity,
                self.cost + signed_quantity * price,
                self.realised_pnl,
            )
            return grown, ZERO
        closing = -q if abs(signed_quantity) >= abs(q) else signed_quantity
        remaining = q + closing
        cost_after = (self.cost * remaining / q).quantize(COST_SCALE) if remaining else ZERO
        realised = -closing * price - (self.cost - cost_after)
        opening = signed_quantity - closing
        position = Position(
            self.symbol,
            self.product,
            remaining + opening,
            cost_after + opening * price,
            self.realised_pnl + realised,
        )
        return position, realised


class PositionBook:
    """All positions of one broker account, updated fill by fill."""

    def __init__(self, positions: Iterable[Position] = ()) -> None:
        self._positions: dict[PositionKey, Position] = {p.key: p for p in positions}

    def get(self, symbol: str, product: Product) -> Position:
        """The position (flat if never traded)."""
        return self._positions.get((symbol, product)) or Position(symbol, product)

    def apply_fill(self, fill: Fill) -> tuple[Position, Decimal]:
        """Book ``fill``; return the updated position and the P&L it realised."""
        position, realised = self.get(fill.symbol, fill.product).apply(
            fill.signed_quantity, fill.price
        )
        self._positions[position.key] = position
        return position, realised

    def __iter__(self) -> Iterator[Position]:
        return iter(self._positions.values())

    def open_positions(self) -> list[Position]:
        return [p for p in self._positions.values() if p.is_open]

    @property
    def realised_pnl(self) -> Decimal:
        return sum((p.realised_pnl for p in self._positions.values()), ZERO)

    def net_quantity(self, symbol: str) -> Decimal:
        """Net quantity in ``symbol`` over all products."""
        return sum((p.quantity for p in self._positions.values() if p.symbol == symbol), ZERO)

    def unrealised_pnl(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Unrealised P&L at ``marks`` (positions without a mark are valued at their cost)."""
        return sum(
            (p.unrealised_pnl(marks[p.symbol]) for p in self.open_positions() if p.symbol in marks),
            ZERO,
        )

    def market_value(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Signed marked value of every open position (unmarked ones at cost)."""
        return sum(
            (
                p.market_value(marks[p.symbol]) if p.symbol in marks else p.cost
                for p in self.open_positions()
            ),
            ZERO,
        )
