"""A fill: part or all of an order executed at one price."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shared.contracts import Product, Side

from .money import ZERO
from .quick import quick_init


@quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One execution. ``seq`` numbers the fills of an order from 1, so ``fill_key`` is stable."""

    user_id: int
    client_order_id: str
    seq: int
    symbol: str
    side: Side
    product: Product
    quantity: Decimal
    price: Decimal
    ts: datetime
    order_turnover_before: Decimal = ZERO
    """Turnover of the same order's earlier fills (per-order brokerage caps need it)."""

    @property
    def fill_key(self) -> str:
        """Deterministic id: replaying the same ticks yields the same keys (idempotent storage)."""
        return f"{self.user_id}:{self.client_order_id}:{self.seq}"

    @property
    def signed_quantity(self) -> Decimal:
        """Quantity with the sign of the side: + for a buy, - for a sell."""
        return self.quantity if self.side is Side.BUY else -self.quantity

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price

    @property
    def cash_flow(self) -> Decimal:
        """Cash into the account before charges: - notional for a buy, + notional for a sell."""
        return -self.signed_quantity * self.price
