"""Between stored order rows, domain orders and intents; the canonical request hash."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import orjson

from order_processor.domain.orders import Order
from shared.contracts import OrderIntent, OrderStatus, OrderType, Product, Side, Validity
from shared.models import Order as OrderRow

EXIT_TAG_PREFIX = "exit:"
"""``algo_tag`` prefix of an intent asking to flatten a position (side and size from the book)."""


def _dec(value: Decimal | None) -> str | None:
    # "10", "10.0" and "1E+1" are one quantity: hash the normalised plain form.
    return None if value is None else format(value.normalize(), "f")


def request_hash(intent: OrderIntent) -> str:
    """SHA-256 of the fields that define the order (not its key, time or version)."""
    canonical = {
        "user_id": intent.user_id,
        "broker_account_id": intent.broker_account_id,
        "symbol": intent.symbol,
        "side": intent.side.value,
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
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def is_exit_intent(intent: OrderIntent) -> bool:
    """An intent to flatten a position: quantity 0 and an ``exit:`` tag (from a strategy)."""
    return intent.quantity == 0 and (intent.algo_tag or "").startswith(EXIT_TAG_PREFIX)


def is_exit_row(row: OrderRow) -> bool:
    return row.quantity == 0 and (row.algo_tag or "").startswith(EXIT_TAG_PREFIX)


def row_from_intent(intent: OrderIntent, digest: str) -> OrderRow:
    """A new PENDING order row for ``intent``."""
    return OrderRow(
        user_id=intent.user_id,
        broker_account_id=intent.broker_account_id,
        client_order_id=intent.client_order_id,
        request_hash=digest,
        symbol=intent.symbol,
        side=intent.side.value,
        quantity=intent.quantity,
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
        algo_tag=intent.algo_tag,
        stop_price=intent.stop,
        target_price=intent.target,
        created_at=intent.created_at,
    )


def intent_from_row(row: OrderRow) -> OrderIntent:
    """The intent a stored order was accepted from (same request hash)."""
    return OrderIntent(
        client_order_id=row.client_order_id,
        user_id=row.user_id,
        broker_account_id=row.broker_account_id,
        symbol=row.symbol,
        side=Side(row.side),
        quantity=row.quantity,
        order_type=OrderType(row.order_type),
        limit_price=row.limit_price,
        trigger_price=row.trigger_price,
        product=Product(row.product),
        validity=Validity(row.validity),
        origin=row.origin,
        subscription_id=row.subscription_id,
        algo_tag=row.algo_tag,
        stop=row.stop_price,
        target=row.target_price,
        created_at=row.created_at,
    )


def to_domain(row: OrderRow) -> Order:
    """The domain order of a stored row."""
    return Order(
        order_id=row.id,
        user_id=row.user_id,
        broker_account_id=row.broker_account_id,
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        quantity=row.quantity,
        order_type=OrderType(row.order_type),
        limit_price=row.limit_price,
        trigger_price=row.trigger_price,
        product=Product(row.product),
        validity=Validity(row.validity),
        origin=row.origin,  # type: ignore[arg-type]
        subscription_id=row.subscription_id,
        algo_tag=row.algo_tag,
        stop=row.stop_price,
        target=row.target_price,
        broker_order_id=row.broker_order_id,
        status=OrderStatus(row.status),
        filled_quantity=row.filled_quantity,
        filled_value=row.filled_value,
        fill_count=row.fill_count,
        reason_code=row.reason_code,
        reason=row.reason,
        submitted_at=row.submitted_at,
        triggered_at=row.triggered_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def apply_to_row(order: Order, row: OrderRow) -> None:
    """Copy the mutable state of a domain order (status, fills, reasons, times) onto its row."""
    row.status = order.status.value
    row.side = order.side.value
    row.quantity = order.quantity
    row.limit_price = order.limit_price
    row.trigger_price = order.trigger_price
    row.filled_quantity = order.filled_quantity
    row.filled_value = order.filled_value
    row.fill_count = order.fill_count
    row.average_price = order.average_price
    row.reason_code = order.reason_code
    row.reason = order.reason
    row.submitted_at = order.submitted_at
    row.triggered_at = order.triggered_at
    row.broker_order_id = order.broker_order_id


def same_terms(a: Order, b: Order) -> bool:
    """Whether two copies of an order agree on what may be changed after placing it."""
    return (
        a.quantity == b.quantity
        and a.limit_price == b.limit_price
        and a.trigger_price == b.trigger_price
    )
