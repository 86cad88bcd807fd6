"""Order, fill, position and account events for a user's channel, and the outbox they leave by."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from order_processor.accounting import AccountSummary, MarkedPosition
from order_processor.records import (
    loaded_values,
    order_type_of,
    product_of,
    side_of,
    status_of,
    validity_of,
)
from shared.contracts import (
    AccountEvent,
    FillEvent,
    OrderEvent,
    PositionEvent,
    user_channel,
)
from shared.models import Order, Position
from shared.outbox import Outbox as TransactionOutbox
from shared.outbox import new_event_id

log = logging.getLogger(__name__)


_EVENT_COLUMNS = (
    "user_id",
    "version",
    "broker_account_id",
    "client_order_id",
    "symbol",
    "quantity",
    "filled_quantity",
    "limit_price",
    "trigger_price",
    "average_price",
    "origin",
    "subscription_id",
    "algo_tag",
    "stop_price",
    "target_price",
    "reason_code",
    "reason",
    "created_at",
)
_EVENT_READS = frozenset(
    (*_EVENT_COLUMNS, "id", "side", "order_type", "product", "validity", "status")
)


# The events of the order path carry their id from the start: giving one when staged
# would copy each event (the outbox keeps an event's id, and gives one to an event without).


def order_event(row: Order, ts: datetime) -> OrderEvent:
    """The whole order as it is now, with its version."""
    v = loaded_values(row, _EVENT_READS)
    return OrderEvent(
        event_id=new_event_id(),
        order_id=v["id"],
        side=side_of(v["side"]),
        order_type=order_type_of(v["order_type"]),
        product=product_of(v["product"]),
        validity=validity_of(v["validity"]),
        status=status_of(v["status"]),
        ts=ts,
        **{name: v[name] for name in _EVENT_COLUMNS},
    )


def fill_event(fill: Mapping[str, Any], fill_id: int) -> FillEvent:
    """The event of a stored fill, from the values of its ``fills`` row."""
    return FillEvent(
        event_id=new_event_id(),
        user_id=fill["user_id"],
        order_id=fill["order_id"],
        fill_id=fill_id,
        symbol=fill["symbol"],
        side=side_of(fill["side"]),
        quantity=fill["quantity"],
        price=fill["price"],
        charges=fill["charges"],
        ts=fill["ts"],
    )


def position_event(row: Position, mark: Decimal | None, ts: datetime) -> PositionEvent:
    return PositionEvent(
        event_id=new_event_id(),
        user_id=row.user_id,
        broker_account_id=row.broker_account_id,
        symbol=row.symbol,
        quantity=row.quantity,
        average_price=row.average_price,
        realised_pnl=row.realised_pnl,
        unrealised_pnl=MarkedPosition(row, mark).unrealised_pnl,
        ts=ts,
    )


def account_event(user_id: int, summary: AccountSummary) -> AccountEvent:
    return AccountEvent(
        user_id=user_id,
        broker_account_id=summary.broker_account_id,
        currency=summary.currency,
        starting_capital=summary.starting_capital,
        cash=summary.cash,
        market_value=summary.market_value,
        equity=summary.equity,
        margin_used=summary.margin_used,
        free_margin=summary.free_margin,
        realised_pnl=summary.realised_pnl,
        unrealised_pnl=summary.unrealised_pnl,
        charges=summary.charges,
        start_of_day_equity=summary.start_of_day_equity,
        day_pnl=summary.day_pnl,
        open_positions=summary.open_positions,
        ts=summary.as_of,
    )


Fence = Callable[[AsyncSession, Iterable[int]], Awaitable[None]]
"""Raises unless this process still owns the partitions (``Ownership.fence``), inside the
write transaction that is about to change their accounts."""


async def no_fence(session: AsyncSession, partitions: Iterable[int]) -> None:
    """No ownership to check (a processor on its own, outside an engine)."""


@dataclass
class Outbox(TransactionOutbox):
    """The events of one transaction of the order path (``shared.outbox``): staged with
    it, sent by the process's relay once it has committed."""

    def order(self, row: Order, ts: datetime) -> None:
        self.add(user_channel(row.user_id), order_event(row, ts))
