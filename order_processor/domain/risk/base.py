"""What every risk check shares: the decision it returns and the read-only account view it reads."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from shared.contracts import Side
from shared.instruments import Instrument

from ..instruments import SessionCalendar
from ..money import ZERO
from ..orders import Order
from ..quick import quick_init

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


@quick_init
@dataclass(frozen=True, slots=True)
class PositionView:
    """A net open position in one symbol (all products together), signed: + long, - short."""

    symbol: str
    quantity: Decimal
    average_price: Decimal
    sector: str | None = None


@quick_init
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


class WorkingTotals:
    """The working orders summed per (symbol, side): how many, their remaining quantity, the
    notional of those with a price and the quantity of those without one.

    What the exposure checks need of the working orders, in time that does not grow with
    their number: a batch of orders keeps one up to date as it decides them
    (``add``), instead of every order's view walking all the others. Sums of Decimals
    are exact, so the checks answer as they would walking the list.
    """

    __slots__ = ("_by_key",)

    def __init__(self, orders: Iterable[WorkingOrderView] = ()) -> None:
        self._by_key: dict[tuple[str, Side], list[Any]] = {}
        for order in orders:
            self.add(order)

    def add(self, order: WorkingOrderView) -> None:
        entry = self._by_key.get((order.symbol, order.side))
        if entry is None:
            entry = self._by_key[(order.symbol, order.side)] = [0, ZERO, ZERO, ZERO]
        entry[0] += 1
        entry[1] += order.quantity
        if order.price is not None:
            entry[2] += order.quantity * order.price
        else:
            entry[3] += order.quantity

    def copy(self) -> WorkingTotals:
        out = WorkingTotals()
        out._by_key = {key: list(entry) for key, entry in self._by_key.items()}
        return out

    def has(self, symbol: str, side: Side) -> bool:
        """Whether any working order is in ``symbol`` on ``side``."""
        return (symbol, side) in self._by_key

    def quantity(self, symbol: str, side: Side) -> Decimal:
        """Remaining quantity of the working orders in ``symbol`` on ``side``."""
        entry = self._by_key.get((symbol, side))
        return entry[1] if entry is not None else ZERO

    def symbols(self) -> set[str]:
        return {symbol for symbol, _ in self._by_key}

    def sides(self) -> Iterator[tuple[str, Side, Decimal, Decimal]]:
        """(symbol, side, notional of the priced orders, quantity of the unpriced ones)."""
        for (symbol, side), (_, _, priced, unpriced) in self._by_key.items():
            yield symbol, side, priced, unpriced


def _no_prices(symbol: str) -> Decimal | None:
    return None


@quick_init
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
    working_totals: WorkingTotals | None = None
    """``working_orders`` summed (``WorkingTotals``); made from them when not given."""

    def __post_init__(self) -> None:
        if self.working_totals is None:
            object.__setattr__(self, "working_totals", WorkingTotals(self.working_orders))

    @property
    def totals(self) -> WorkingTotals:
        assert self.working_totals is not None  # set in __post_init__
        return self.working_totals

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


_PASSED: dict[tuple[str, str, str], Decision] = {}


class BaseCheck:
    """Helpers for checks: decisions stamped with the check's name."""

    name: ClassVar[str] = ""

    def ok(self, message: str = "", code: str = OK) -> Decision:
        # A pass is the same value every time it says the same (decisions are frozen): one
        # per check and wording, not one per order (and the verdicts of orders that share
        # their passes are stored from one list).
        key = (self.name, code, message)
        passed = _PASSED.get(key)
        if passed is None:
            if len(_PASSED) >= 10_000:  # wordings with numbers in them
                _PASSED.clear()
            passed = _PASSED[key] = Decision(True, code, message, self.name)
        return passed

    def deny(self, code: str, message: str) -> Decision:
        return Decision(False, code, message, self.name)
