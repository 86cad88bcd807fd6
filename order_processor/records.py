"""Between stored order rows, domain orders and intents; the canonical request hash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol, TypeVar

import orjson
from sqlalchemy.orm.instrumentation import manager_of_class

from order_processor.domain.closing import Closing, WorkingQuantity
from order_processor.domain.orders import Order
from shared.contracts import OrderIntent, OrderStatus, OrderType, Product, Side, Validity
from shared.models import Order as OrderRow

EXIT_TAG_PREFIX = "exit:"
"""``algo_tag`` prefix of a stored order made from a close intent (storage only, not a contract).

The row keeps the closing order as a normal order (side and quantity worked
out when it was accepted, the quantity being the most it may close); the
prefix is how the processor knows to size it again when it decides it.
"""


def _dec(value: Decimal | None) -> str | None:
    # "10", "10.0" and "1E+1" are one quantity: hash the normalised plain form.
    return None if value is None else format(value.normalize(), "f")


def request_hash(intent: OrderIntent) -> str:
    """SHA-256 of the fields that define the order (not its key, time or version)."""
    canonical: dict[str, object] = {
        "user_id": intent.user_id,
        "broker_account_id": intent.broker_account_id,
        "symbol": intent.symbol,
        "side": intent.side.value if intent.side is not None else None,
        "quantity": _dec(intent.quantity),
        "order_type": intent.order_type.value,
        "limit_price": _dec(intent.limit_price),
        "trigger_price": _dec(intent.trigger_price),
        "product": intent.product.value,
        "validity": intent.validity.value,
        "origin": intent.origin,
        "subscription_id": intent.subscription_id,
        "algo_tag": intent.algo_tag,
        "stop": _dec(intent.stop),
        "target": _dec(intent.target),
    }
    if intent.purpose != "open":
        # Only when not the default, so orders stored before the field existed still replay.
        canonical["purpose"] = intent.purpose
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def is_exit_intent(intent: OrderIntent) -> bool:
    return intent.purpose == "close"


def is_exit_row(row: OrderRow) -> bool:
    """A stored order made from a close intent."""
    return (row.algo_tag or "").startswith(EXIT_TAG_PREFIX)


class OrderTerms(Protocol):
    """What ``working_quantities`` reads of an order (a stored row, or its columns)."""

    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def product(self) -> str: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def filled_quantity(self) -> Decimal: ...


def working_quantities(
    rows: Iterable[OrderTerms], symbol: str, product: Product
) -> list[WorkingQuantity]:
    """Side and unfilled quantity of the orders among ``rows`` in ``symbol`` and ``product``."""
    return [
        WorkingQuantity(Side(r.side), r.quantity - r.filled_quantity)
        for r in rows
        if r.symbol == symbol and r.product == product.value
    ]


def exit_tag(algo_tag: str | None, origin: str) -> str:
    """The stored ``algo_tag`` of an exit: the prefix and who asked (strategy, or origin)."""
    return (EXIT_TAG_PREFIX + (algo_tag or origin))[:64]


def row_from_intent(intent: OrderIntent, digest: str, closing: Closing | None = None) -> OrderRow:
    """A new PENDING order row for ``intent``; a close intent's terms come from ``closing``.

    A close intent with nothing to close is stored with quantity 0, to be denied.
    """
    if intent.purpose == "close":
        side = closing.side if closing is not None else Side.SELL
        quantity = closing.quantity if closing is not None else Decimal(0)
        algo_tag: str | None = exit_tag(intent.algo_tag, intent.origin)
    else:
        assert intent.side is not None and intent.quantity is not None  # the contract's rule
        side, quantity, algo_tag = intent.side, intent.quantity, intent.algo_tag
    return new_row(
        user_id=intent.user_id,
        broker_account_id=intent.broker_account_id,
        client_order_id=intent.client_order_id,
        request_hash=digest,
        symbol=intent.symbol,
        side=side.value,
        quantity=quantity,
        order_type=intent.order_type.value,
        limit_price=intent.limit_price,
        trigger_price=intent.trigger_price,
        product=intent.product.value,
        validity=intent.validity.value,
        status=OrderStatus.PENDING.value,
        filled_quantity=Decimal(0),
        filled_value=Decimal(0),
        fill_count=0,
        origin=intent.origin,
        subscription_id=intent.subscription_id,
        algo_tag=algo_tag,
        stop_price=intent.stop,
        target_price=intent.target,
        created_at=intent.created_at,
        updated_at=intent.created_at,
        version=1,
        # Set, though empty, so the row's values are all loaded (``loaded_values``).
        submitted_at=None,
        triggered_at=None,
        reason_code=None,
        reason=None,
        broker_order_id=None,
    )


_ROW_MANAGER = manager_of_class(OrderRow)


def new_row(**values: Any) -> OrderRow:
    """A new (transient) order row holding ``values``, as ``OrderRow(**values)`` makes it.

    The values go into the instance's dictionary at once rather than through the mapped
    attributes one by one (each an instrumented call): a row is made for every order, and
    an insert reads the values from that dictionary either way.
    """
    row: OrderRow = _ROW_MANAGER.new_instance()
    row.__dict__.update(values)
    return row


_DOMAIN_COLUMNS = {
    "order_id": "id",
    "user_id": "user_id",
    "broker_account_id": "broker_account_id",
    "client_order_id": "client_order_id",
    "symbol": "symbol",
    "quantity": "quantity",
    "limit_price": "limit_price",
    "trigger_price": "trigger_price",
    "origin": "origin",
    "subscription_id": "subscription_id",
    "algo_tag": "algo_tag",
    "stop": "stop_price",
    "target": "target_price",
    "broker_order_id": "broker_order_id",
    "filled_quantity": "filled_quantity",
    "filled_value": "filled_value",
    "fill_count": "fill_count",
    "reason_code": "reason_code",
    "reason": "reason",
    "submitted_at": "submitted_at",
    "triggered_at": "triggered_at",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
_ROW_COLUMNS = frozenset(_DOMAIN_COLUMNS.values()) | {
    "side",
    "order_type",
    "product",
    "validity",
    "status",
}


def loaded_values(row: OrderRow, columns: frozenset[str] = _ROW_COLUMNS) -> dict[str, Any]:
    """The row's values of ``columns``, read from its loaded state at once when all are
    there (each read through the ORM's attributes costs a call), else attribute by
    attribute (a column not loaded is loaded the usual way)."""
    values: dict[str, Any] = row.__dict__
    if columns <= values.keys():
        return values
    return {name: getattr(row, name) for name in columns}


_E = TypeVar("_E", bound=Enum)


def enum_member(kind: type[_E]) -> Callable[[Any], _E]:
    """``kind(value)`` through a dict of its members (a dict look-up, where calling the enum
    class costs about ten times as much; an order's row is read into enums a dozen times on
    its way to a fill). An unknown value raises ``ValueError`` as the call does."""
    members: dict[Any, _E] = {m.value: m for m in kind}

    def member(value: Any) -> _E:
        found = members.get(value)
        return found if found is not None else kind(value)

    return member


side_of = enum_member(Side)
order_type_of = enum_member(OrderType)
product_of = enum_member(Product)
validity_of = enum_member(Validity)
status_of = enum_member(OrderStatus)


def to_domain(row: OrderRow) -> Order:
    """The domain order of a stored row."""
    v = loaded_values(row)
    return Order(
        side=side_of(v["side"]),
        order_type=order_type_of(v["order_type"]),
        product=product_of(v["product"]),
        validity=validity_of(v["validity"]),
        status=status_of(v["status"]),
        **{field: v[column] for field, column in _DOMAIN_COLUMNS.items()},
    )


def apply_to_row(order: Order, row: OrderRow) -> None:
    """Copy the mutable state of a domain order (status, fills, reasons, times) onto its row.

    Every copy is a change of the order: its version goes up by one. On a row a session
    tracks only columns whose value differs are set, so the row's UPDATE carries only what
    moved.
    """
    state = row.__dict__
    if state["_sa_instance_state"].session_id is None and state.keys() >= _ROW_COLUMNS:
        # A row no session tracks (made for a new order, or read for a booking that writes
        # it back itself): nothing records its changes, so they go into its values at once.
        state["version"] = (state.get("version") or 1) + 1
        if order.updated_at is not None:
            state["updated_at"] = order.updated_at
        state.update(_moves(order))
        return
    row.version = (row.version or 1) + 1
    if order.updated_at is not None:
        row.updated_at = order.updated_at
    for name, value in _moves(order).items():
        # A column not loaded (expired, deferred) is set: comparing would load it.
        if name not in state or state[name] != value:
            setattr(row, name, value)


MOVED_COLUMNS = (
    "status",
    "side",
    "quantity",
    "limit_price",
    "trigger_price",
    "filled_quantity",
    "filled_value",
    "fill_count",
    "average_price",
    "reason_code",
    "reason",
    "submitted_at",
    "triggered_at",
    "broker_order_id",
)
"""The columns of an order's row that its state moves (besides ``version`` and
``updated_at``)."""


def _moves(order: Order) -> dict[str, Any]:
    """The values of ``MOVED_COLUMNS`` for ``order``."""
    values = (
        order.status.value,
        order.side.value,
        order.quantity,
        order.limit_price,
        order.trigger_price,
        order.filled_quantity,
        order.filled_value,
        order.fill_count,
        order.average_price,
        order.reason_code,
        order.reason,
        order.submitted_at,
        order.triggered_at,
        order.broker_order_id,
    )
    return dict(zip(MOVED_COLUMNS, values, strict=True))


def same_terms(a: Order, b: Order) -> bool:
    """Whether two copies of an order agree on what may be changed after placing it."""
    return (
        a.quantity == b.quantity
        and a.limit_price == b.limit_price
        and a.trigger_price == b.trigger_price
    )
