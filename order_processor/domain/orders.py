"""The order value object, its validation against an instrument, and its status/fill updates.

``Order`` is immutable: every change (a status move, a fill) returns a new
``Order``, and status moves go through ``states.transition`` so an illegal move
cannot be expressed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from shared.contracts import OrderIntent, OrderStatus, OrderType, Origin, Product, Side, Validity
from shared.errors import Unprocessable
from shared.instruments import Instrument

from .money import ZERO, is_multiple
from .quick import quick_init, slot_setters
from .states import PENDING_CHANGE_STATES, TERMINAL_STATES, WORKING_STATES, transition

_T = TypeVar("_T")

OrderKey = tuple[int, str]
"""(user_id, client_order_id): unique per order, the idempotency key."""

_NEEDS_LIMIT = frozenset({OrderType.LIMIT, OrderType.SL})
_NEEDS_TRIGGER = frozenset({OrderType.SL, OrderType.SL_M})


@quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """One order of one user on one broker account, with its current status and fills."""

    user_id: int
    broker_account_id: int
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    created_at: datetime
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None
    product: Product = Product.MIS
    validity: Validity = Validity.DAY
    origin: Origin = "manual"
    subscription_id: int | None = None
    algo_tag: str | None = None
    stop: Decimal | None = None
    """Protective stop of the trade this order opens (used by the risk-per-trade check)."""
    target: Decimal | None = None
    order_id: int | None = None
    broker_order_id: str | None = None
    status: OrderStatus = OrderStatus.PENDING
    filled_quantity: Decimal = ZERO
    filled_value: Decimal = ZERO
    """Sum of quantity x price over the fills so far (exact; the average price derives from it)."""
    fill_count: int = 0
    """Number of fills so far; the next fill is number ``fill_count + 1``."""
    reason_code: str | None = None
    reason: str | None = None
    submitted_at: datetime | None = None
    triggered_at: datetime | None = None
    updated_at: datetime | None = field(default=None)

    @property
    def key(self) -> OrderKey:
        return (self.user_id, self.client_order_id)

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def average_price(self) -> Decimal | None:
        """Volume-weighted price of the fills so far, or None before the first fill."""
        if self.filled_quantity == 0:
            return None
        return self.filled_value / self.filled_quantity

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self.side is Side.BUY else -1

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATES

    @property
    def is_working(self) -> bool:
        """Resting at the broker (a cancel or change may be under way)."""
        return self.status in WORKING_STATES

    @property
    def resting_status(self) -> OrderStatus:
        """OPEN or PARTIALLY_FILLED: the working state without a request under way."""
        return OrderStatus.PARTIALLY_FILLED if self.filled_quantity else OrderStatus.OPEN

    def with_status(
        self,
        new: OrderStatus,
        ts: datetime,
        *,
        reason_code: str | None = None,
        reason: str | None = None,
    ) -> Order:
        """The order moved to ``new`` at ``ts``; raises ``IllegalTransition`` if not allowed."""
        status = transition(self.status, new)
        submitted_at = ts if status is OrderStatus.SUBMITTED else self.submitted_at
        return _evolve(
            self,
            status=status,
            updated_at=ts,
            submitted_at=submitted_at,
            reason_code=reason_code if reason_code is not None else self.reason_code,
            reason=reason if reason is not None else self.reason,
        )

    def with_fill(self, quantity: Decimal, price: Decimal, ts: datetime) -> Order:
        """The order after a fill of ``quantity`` at ``price``: PARTIALLY_FILLED or FILLED
        (a partial fill of an order with a cancel or change under way keeps that state)."""
        if quantity <= 0 or quantity > self.remaining_quantity:
            raise ValueError(
                f"fill of {quantity} does not fit the remaining {self.remaining_quantity}"
            )
        filled = self.filled_quantity + quantity
        if filled == self.quantity:
            new = OrderStatus.FILLED
        elif self.status in PENDING_CHANGE_STATES:
            new = self.status  # the cancel or change is still under way
        else:
            new = OrderStatus.PARTIALLY_FILLED
        return _evolve(
            self,
            status=transition(self.status, new),
            filled_quantity=filled,
            filled_value=self.filled_value + quantity * price,
            fill_count=self.fill_count + 1,
            updated_at=ts,
        )

    def with_trigger(self, ts: datetime) -> Order:
        """A stop order whose trigger price was touched at ``ts`` (status does not change)."""
        return _evolve(self, triggered_at=ts, updated_at=ts)


def order_from_intent(intent: OrderIntent) -> Order:
    """A PENDING order from an open intent taken off the bus (or a manual order request).

    A close intent has no side or quantity until the processor sizes it.
    """
    if intent.side is None or intent.quantity is None:
        raise ValueError("a close intent is sized by the order processor, not made an order")
    return Order(
        user_id=intent.user_id,
        broker_account_id=intent.broker_account_id,
        client_order_id=intent.client_order_id,
        symbol=intent.symbol,
        side=intent.side,
        quantity=intent.quantity,
        order_type=intent.order_type,
        limit_price=intent.limit_price,
        trigger_price=intent.trigger_price,
        product=intent.product,
        validity=intent.validity,
        origin=intent.origin,
        subscription_id=intent.subscription_id,
        algo_tag=intent.algo_tag,
        stop=intent.stop,
        target=intent.target,
        created_at=intent.created_at,
        updated_at=intent.created_at,
    )


@dataclass(frozen=True, slots=True)
class OrderError:
    """One reason an order is malformed: a code, the field at fault and a message."""

    code: str
    field: str
    message: str


class InvalidOrder(Unprocessable):
    """An order failed validation; ``details`` lists every error found."""

    code = "invalid_order"

    def __init__(self, errors: list[OrderError]) -> None:
        super().__init__(
            "; ".join(e.message for e in errors),
            details=[{"code": e.code, "field": e.field, "message": e.message} for e in errors],
        )
        self.errors = errors


def _compile_evolve(cls: type[_T]) -> Callable[..., _T]:
    """``dataclasses.replace`` for one frozen, slotted dataclass, compiled once.

    ``replace`` walks the fields and calls ``__init__`` with every one of them as a keyword
    on each call (about 7 us for an ``Order``); this function takes the changes as keywords
    and copies the other fields straight across, each through its slot's setter (under
    2.5 us). An order changes three or four times on its way to a fill. No field of
    ``Order`` has an ``init=False`` or a ``__post_init__`` to run; a new one would need them
    here (a test compares the two).
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    params = ", ".join(f"{n}=_KEEP" for n in names)
    body = "".join(f"    _set_{n}(new, old.{n} if {n} is _KEEP else {n})\n" for n in names)
    source = f"def evolve(old, *, {params}):\n    new = _new(_cls)\n{body}    return new\n"
    namespace: dict[str, Any] = {"_KEEP": object(), "_new": object.__new__, "_cls": cls}
    namespace.update({f"_set_{n}": setter for n, setter in slot_setters(cls).items()})
    exec(source, namespace)  # noqa: S102 - the source is built from the class's field names
    evolve: Callable[..., _T] = namespace["evolve"]
    return evolve


_evolve = _compile_evolve(Order)


def validate_order(order: Order, instrument: Instrument) -> list[OrderError]:
    """Every problem with the order's quantity and prices for ``instrument`` (empty: valid)."""
    errors: list[OrderError] = []
    if order.symbol != instrument.symbol:
        errors.append(
            OrderError(
                "symbol_mismatch",
                "symbol",
                f"order is for {order.symbol}, instrument is {instrument.symbol}",
            )
        )
    errors += _quantity_errors(order.quantity, instrument.lot_size)
    errors += _price_presence_errors(order)
    for name, price in (("limit_price", order.limit_price), ("trigger_price", order.trigger_price)):
        if price is not None:
            errors += _price_errors(name, price, instrument.tick_size)
    errors += _stop_limit_errors(order)
    return errors


def ensure_valid(order: Order, instrument: Instrument) -> Order:
    """Return the order if valid, else raise ``InvalidOrder`` with every error."""
    errors = validate_order(order, instrument)
    if errors:
        raise InvalidOrder(errors)
    return order


def _quantity_errors(quantity: Decimal, lot_size: Decimal) -> list[OrderError]:
    if quantity <= 0:
        return [OrderError("quantity_not_positive", "quantity", "quantity must be positive")]
    if not is_multiple(quantity, lot_size):
        return [
            OrderError(
                "quantity_not_lot_multiple",
                "quantity",
                f"quantity {quantity} is not a multiple of the lot size {lot_size}",
            )
        ]
    return []


def _price_presence_errors(order: Order) -> list[OrderError]:
    errors = []
    kind = order.order_type
    if kind in _NEEDS_LIMIT and order.limit_price is None:
        errors.append(
            OrderError("limit_price_required", "limit_price", f"a {kind} order needs a limit price")
        )
    if kind not in _NEEDS_LIMIT and order.limit_price is not None:
        errors.append(
            OrderError(
                "limit_price_not_allowed", "limit_price", f"a {kind} order takes no limit price"
            )
        )
    if kind in _NEEDS_TRIGGER and order.trigger_price is None:
        errors.append(
            OrderError(
                "trigger_price_required", "trigger_price", f"a {kind} order needs a trigger price"
            )
        )
    if kind not in _NEEDS_TRIGGER and order.trigger_price is not None:
        errors.append(
            OrderError(
                "trigger_price_not_allowed",
                "trigger_price",
                f"a {kind} order takes no trigger price",
            )
        )
    return errors


def _price_errors(name: str, price: Decimal, tick: Decimal) -> list[OrderError]:
    if price <= 0:
        return [OrderError("price_not_positive", name, f"{name} must be positive")]
    if not is_multiple(price, tick):
        return [
            OrderError(
                "price_off_tick", name, f"{name} {price} is not a multiple of the tick size {tick}"
            )
        ]
    return []


def _stop_limit_errors(order: Order) -> list[OrderError]:
    """A stop-limit buy triggers at or below its limit, a sell at or above (else it can't fill)."""
    if order.order_type is not OrderType.SL:
        return []
    limit, trigger = order.limit_price, order.trigger_price
    if limit is None or trigger is None:
        return []
    if order.side is Side.BUY and trigger > limit:
        return [
            OrderError(
                "trigger_above_limit",
                "trigger_price",
                "a buy stop-limit needs trigger price <= limit price",
            )
        ]
    if order.side is Side.SELL and trigger < limit:
        return [
            OrderError(
                "trigger_below_limit",
                "trigger_price",
                "a sell stop-limit needs trigger price >= limit price",
            )
        ]
    return []
