"""Order, fill, position and account events for a user's channel, and the outbox they leave by."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from order_processor.accounting import AccountSummary, MarkedPosition
from shared.contracts import (
    AccountEvent,
    FillEvent,
    OrderEvent,
    OrderStatus,
    OrderType,
    PositionEvent,
    Product,
    Side,
    Validity,
    user_channel,
)
from shared.models import Fill, Order, Position
from shared.outbox import Outbox as TransactionOutbox

log = logging.getLogger(__name__)


def order_event(row: Order, ts: datetime) -> OrderEvent:
    """The whole order as it is now, with its version."""
    return OrderEvent(
        user_id=row.user_id,
        order_id=row.id,
        version=row.version,
        broker_account_id=row.broker_account_id,
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        order_type=OrderType(row.order_type),
        product=Product(row.product),
        validity=Validity(row.validity),
        status=OrderStatus(row.status),
        quantity=row.quantity,
        filled_quantity=row.filled_quantity,
        limit_price=row.limit_price,
        trigger_price=row.trigger_price,
        average_price=row.average_price,
        origin=row.origin,
        subscription_id=row.subscription_id,
        algo_tag=row.algo_tag,
        stop_price=row.stop_price,
        target_price=row.target_price,
        reason_code=row.reason_code,
        reason=row.reason,
        created_at=row.created_at,
        ts=ts,
    )


def fill_event(row: Fill) -> FillEvent:
    return FillEvent(
        user_id=row.user_id,
        order_id=row.order_id,
        fill_id=row.id,
        symbol=row.symbol,
        side=Side(row.side),
        quantity=row.quantity,
        price=row.price,
        charges=row.charges,
        ts=row.ts,
    )


def position_event(row: Position, mark: Decimal | None, ts: datetime) -> PositionEvent:
    return PositionEvent(
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
