"""What every risk check shares: the decision it returns and the read-only account view it reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Protocol

from shared.contracts import Side
from shared.instruments import Instrument

from ..instruments import SessionCalendar
from ..money import ZERO
from ..orders import Order

OK = "ok"
"""Code of a plain pass."""
RISK_REDUCING = "risk_reducing"
"""Code of a pass granted because the order only reduces an existing position."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one check: approved or not, a stable code and a human message."""

    approved: bool
    code: str
    message: str = ""
    check: str = ""


@dataclass(frozen=True, slots=True)
class PositionView:
    """A net open position in one symbol (all products together), signed: + long, - short."""

    symbol: str
    quantity: Decimal
    average_price: Decimal
    sector: str | None = None


@dataclass(frozen=True, slots=True)
class WorkingOrderView:
    """An order that may still fill: its remaining quantity and its price, if it has one."""

    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal | None = None

    @classmethod
    def of(cls, order: Order) -> WorkingOrderView:
        """View of a stored order (limit price, else trigger price, else none)."""
        price = order.limit_price if order.limit_price is not None else order.trigger_price
        return cls(order.symbol, order.side, order.remaining_quantity, price)

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side is Side.BUY else -self.quantity


def _no_prices(symbol: str) -> Decimal | None:
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountView:
    """What the checks may read about the account and the order's instrument, as of ``now``.

    ``working_orders`` are the account's orders that are not terminal and not
    this one (SUBMITTED, OPEN, PARTIALLY_FILLED, UNKNOWN); ``recent_order_times``
    are the times of the account's orders sent to the broker, at least the last
    second's worth.
    """

    now: datetime
    equity: Decimal
    cash: Decimal
    start_of_day_equity: Decimal
    start_of_week_equity: Decimal
    peak_equity: Decimal
    instrument: Instrument
    calendar: SessionCalendar
    positions: Mapping[str, PositionView] = field(default_factory=dict)
    working_orders: Sequence[WorkingOrderView] = ()
    last_price: Callable[[str], Decimal | None] = _no_prices
    recent_order_times: Sequence[datetime] = ()
    user_halted: bool = False
    global_halted: bool = False

    def position_quantity(self, symbol: str) -> Decimal:
        position = self.positions.get(symbol)
        return position.quantity if position is not None else ZERO

    def mark(self, symbol: str) -> Decimal | None:
        """The last price of ``symbol``, else the average price of its position, else None."""
        price = self.last_price(symbol)
        if price is not None:
            return price
        position = self.positions.get(symbol)
        return position.average_price if position is not None else None


class RiskCheck(Protocol):
    """One pre-trade rule: a name and a pure ``check``."""

    @property
    def name(self) -> str: ...

    def check(self, order: Order, view: AccountView) -> Decision: ...


class BaseCheck:
    """Helpers for checks: decisions stamped with the check's name."""

    name: ClassVar[str] = ""

    def ok(self, message: str = "", code: str = OK) -> Decision:
        return Decision(True, code, message, self.name)

    def deny(self, code: str, message: str) -> Decision:
        return Decision(False, code, message, self.name)
