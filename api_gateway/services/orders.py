"""The order routes' use cases: thin glue between the request and the order processor's services.

Placing an order stores it PENDING in the request's transaction (so concurrent
identical requests make one order), commits, appends the intent to the order
stream, and waits briefly for the processor to decide it, so the response
usually shows the order's state at the broker rather than PENDING.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from decimal import Decimal

from api_gateway.context import GatewayContext
from api_gateway.deps import UnitOfWork
from api_gateway.schemas.common import PageOut
from api_gateway.schemas.orders import OrderCreate, OrderUpdate, PositionPublic
from order_processor.accounting import AccountReader, AccountSummary
from order_processor.catalog import default_catalog
from order_processor.config import DEFAULT_OPTIONS
from order_processor.events import Outbox
from order_processor.prices import LastPrices
from order_processor.repositories import (
    AccountRepository,
    FillRepository,
    OrderFilters,
    OrderRepository,
    PositionRepository,
    RiskDecisionRepository,
)
from order_processor.service import OrderService
from shared.contracts import STREAM_ORDER_INTENTS, OrderIntent, OrderStatus, Product
from shared.models import Fill, Order, Position, RiskDecisionRecord, User
from shared.repository import Page

log = logging.getLogger(__name__)

SUBMIT_WAIT_KEY = "orders.submit_wait_s"
"""``ctx.extras`` key: how long POST /orders waits for a decision (seconds; default 2)."""
DEFAULT_SUBMIT_WAIT = 2.0
_UNDECIDED = (OrderStatus.PENDING.value, OrderStatus.SUBMITTED.value)


def account_reader(ctx: GatewayContext) -> AccountReader:
    """One reader per gateway process (its equity trackers are incremental caches)."""
    reader = ctx.extras.get("orders.reader")
    if not isinstance(reader, AccountReader):
        reader = AccountReader(default_catalog(), LastPrices(ctx.tickstore(), remember=False))
        ctx.extras["orders.reader"] = reader
    return reader


class OrdersApi:
    """What the order routes do for the signed-in user."""

    def __init__(self, ctx: GatewayContext, uow: UnitOfWork, user: User) -> None:
        self.ctx = ctx
        self.uow = uow
        self.user = user
        self.session = uow.session
        self.outbox = Outbox()
        self.service = OrderService(
            uow.session,
            user.id,
            now=ctx.clock.now(),
            catalog=default_catalog(),
            outbox=self.outbox,
        )

    def _queue_events(self) -> None:
        self.uow.messages.extend(self.outbox.messages)
        self.outbox.messages.clear()

    # -- placing -------------------------------------------------------------

    async def place(self, body: OrderCreate, idempotency_key: str | None) -> Order:
        key = body.client_order_id or idempotency_key or f"api-{uuid.uuid4().hex}"
        intent = OrderIntent(
            client_order_id=key,
            user_id=self.user.id,
            broker_account_id=body.broker_account_id,
            symbol=body.symbol,
            side=body.side,
            quantity=body.quantity,
            order_type=body.order_type,
            limit_price=body.limit_price,
            trigger_price=body.trigger_price,
            product=body.product,
            validity=body.validity,
            origin="manual",
            stop=body.stop,
            target=body.target,
            created_at=self.service.now,
        )
        row, created = await self.service.accept(intent)
        order_id = row.id
        self._queue_events()
        await dispatch(self.ctx, self.uow, [intent] if created else [])
        return await self.settled(order_id)

    async def settled(self, order_id: int) -> Order:
        """The order once the processor has decided it, or as it is when the wait runs out."""
        wait = float(str(self.ctx.extras.get(SUBMIT_WAIT_KEY, DEFAULT_SUBMIT_WAIT)))
        if self.ctx.bus is None:
            wait = 0.0  # nothing carries the order to a processor, so nothing to wait for
        deadline = time.monotonic() + wait
        delay = 0.005
        while True:
            # A short transaction per look: SQLite holds its write lock for a transaction.
            async with self.ctx.sessions() as session:
                row = await OrderRepository(session, self.user.id).get(order_id)
            if row.status not in _UNDECIDED or time.monotonic() >= deadline:
                return row
            await asyncio.sleep(min(delay, max(deadline - time.monotonic(), 0)))
            delay = min(delay * 2, 0.1)

    # -- reading -------------------------------------------------------------

    async def get(self, order_id: int) -> tuple[Order, Sequence[RiskDecisionRecord]]:
        row = await OrderRepository(self.session, self.user.id).get(order_id)
        decisions = await RiskDecisionRepository(self.session, self.user.id).for_order(row.id)
        return row, decisions

    async def search(self, filters: OrderFilters, limit: int, offset: int) -> Page[Order]:
        return await OrderRepository(self.session, self.user.id).search(filters, limit, offset)

    async def fills(
        self,
        limit: int,
        offset: int,
        broker_account_id: int | None,
        order_id: int | None,
        symbol: str | None,
    ) -> Page[Fill]:
        return await FillRepository(self.session, self.user.id).search(
            limit, offset, broker_account_id=broker_account_id, order_id=order_id, symbol=symbol
        )

    async def positions(
        self, limit: int, offset: int, broker_account_id: int | None, open_only: bool
    ) -> PageOut[PositionPublic]:
        page = await PositionRepository(self.session, self.user.id).search(
            limit, offset, broker_account_id=broker_account_id, open_only=open_only
        )
        marks = await account_reader(self.ctx).prices.fetch(
            p.symbol for p in page.items if p.quantity
        )
        return PageOut[PositionPublic](
            items=[_position(p, marks.get(p.symbol)) for p in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    async def summary(self, account_id: int) -> AccountSummary:
        account = await AccountRepository(self.session, self.user.id).get(account_id)
        return await account_reader(self.ctx).summary(self.session, account, self.ctx.clock.now())

    # -- changing ------------------------------------------------------------

    async def modify(self, order_id: int, body: OrderUpdate) -> Order:
        row = await self.service.modify(
            order_id,
            account_reader(self.ctx),
            quantity=body.quantity,
            limit_price=body.limit_price,
            trigger_price=body.trigger_price,
        )
        self._queue_events()
        return row

    async def cancel(self, order_id: int) -> Order:
        row = await self.service.cancel(order_id)
        self._queue_events()
        return row

    async def cancel_all(self, broker_account_id: int | None, symbol: str | None) -> list[Order]:
        rows = await self.service.cancel_open(
            account_id=broker_account_id, symbol=symbol, reason="cancelled"
        )
        self._queue_events()
        return rows


async def dispatch(ctx: GatewayContext, uow: UnitOfWork, intents: Sequence[OrderIntent]) -> None:
    """Commit the request's transaction, then hand new orders to the processor's stream.

    If the append fails (the bus is away), the order stays PENDING in the
    database and the processor's sweeper picks it up a few seconds later.
    """
    await uow.session.commit()
    if ctx.bus is None:
        return
    for intent in intents:
        try:
            await ctx.bus.append(STREAM_ORDER_INTENTS, intent, maxlen=DEFAULT_OPTIONS.stream_maxlen)
        except Exception as exc:
            log.warning("order %s left for the sweeper: %r", intent.client_order_id, exc)


def _position(row: Position, mark: Decimal | None) -> PositionPublic:
    price = mark if mark is not None else row.average_price
    return PositionPublic(
        id=row.id,
        broker_account_id=row.broker_account_id,
        symbol=row.symbol,
        product=Product(row.product),
        quantity=row.quantity,
        average_price=row.average_price,
        realised_pnl=row.realised_pnl,
        last_price=mark,
        market_value=row.quantity * price,
        unrealised_pnl=row.quantity * (price - row.average_price),
        updated_at=row.updated_at,
    )
