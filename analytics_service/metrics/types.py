"""What the metrics are computed from: fills, cash flows and price marks, as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shared.contracts import Side


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One stored fill, with the product of its order (positions are kept per product)."""

    id: int
    ts: datetime
    account_id: int
    symbol: str
    product: str
    side: Side
    quantity: Decimal
    price: Decimal
    charges: Decimal

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side is Side.BUY else -self.quantity

    @property
    def cash_flow(self) -> Decimal:
        """Cash into the account before charges: minus the notional of a buy."""
        return -self.signed_quantity * self.price


@dataclass(frozen=True, slots=True)
class CashFlow:
    """Cash into (+) or out of (-) a scope that is not a fill: capital paid in, deposits,
    withdrawals, adjustments. ``external`` flows are capital moving, not performance."""

    ts: datetime
    amount: Decimal
    external: bool


@dataclass(frozen=True, slots=True)
class Mark:
    """A price of ``symbol`` known from ``ts`` on (a candle's close at its end, a last tick)."""

    symbol: str
    ts: datetime
    price: float
