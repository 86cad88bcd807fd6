"""The order routes' use cases: thin glue between the request and the order processor's services.

Placing an order stores it PENDING in the request's transaction (so concurrent
identical requests make one order), commits, appends the intent to the order
stream, and waits briefly for the processor to decide it, so the response
usually shows the order's state at the broker rather than PENDING. A cancel or
a change is stored as a request with the order (PENDING_CANCEL, PENDING_UPDATE)
and handed to the processor as a command the same way; the response shows its
outcome, or the pending state when the processor has not answered in time.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence

from api_gateway.context import GatewayContext
from api_gateway.deps import UnitOfWork
from api_gateway.schemas.common import PageOut
from api_gateway.schemas.orders import OrderCreate, OrderUpdate, PositionClose, PositionPublic
from order_processor.api import (
    AccountReader,
    AccountSummary,
    CheckVerdict,
    MarkedPosition,
    OrderDesk,
    OrderFilters,
    Outbox,
    reader_for,
    submit,
)
from shared.contracts import OrderCommand, OrderIntent, OrderStatus, Product
from shared.errors import Unprocessable
from shared.models import Fill, Order, User
from shared.repository import Page

log = logging.getLogger(__name__)

SUBMIT_WAIT_KEY = "orders.submit_wait_s"
"""``ctx.extras`` key: how long POST /orders waits for a decision (seconds; default 2)."""
DEFAULT_SUBMIT_WAIT = 2.0
_UNDECIDED = frozenset(
    s.value
    for s in (
        OrderStatus.PENDING,
        OrderStatus.SUBMITTED,
        OrderStatus.PENDING_CANCEL,
        OrderStatus.PENDING_UPDATE,
    )
)
_CHANGE_REFUSALS = frozenset({"change_denied", "change_refused"})


def account_reader(ctx: GatewayContext) -> AccountReader:
    """One reader per gateway process (its equity trackers are incremental caches)."""
    reader = ctx.extras.get("orders.reader")
    if not isinstance(reader, AccountReader):
        reader = reader_for(ctx.tickstore())
        ctx.extras["orders.reader"] = reader
    return reader


def forget_account(ctx: GatewayContext, account_id: int) -> None:
    """Drop this process's cached state of a closed or deleted account (if any is held)."""
    reader = ctx.extras.get("orders.reader")
    if isinstance(reader, AccountReader):
        reader.forget(account_id)


class OrdersApi:
    """What the order routes do for the signed-in user."""

    def __init__(self, ctx: GatewayContext, uow: UnitOfWork, user: User) -> None:
        self.ctx = ctx
        self.uow = uow
        self.user = user
        self.outbox = Outbox()
        self.desk = OrderDesk(
            uow.session,
            user.id,
            now=ctx.clock.now(),
            reader=account_reader(ctx),
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
            created_at=self.desk.now,
        )
        row, created = await self.desk.place(intent)
        order_id = row.id
        self._queue_events()
        await dispatch(self.ctx, self.uow, [intent] if created else [])
        return await self.settled(order_id)

    async def close_position(self, body: PositionClose, idempotency_key: str | None) -> Order:
        row, intent, created = await self.desk.close_position(
            body.broker_account_id,
            body.symbol,
            body.product,
            max_quantity=body.quantity,
            client_order_id=body.client_order_id or idempotency_key,
        )
        order_id = row.id
        self._queue_events()
        await dispatch(self.ctx, self.uow, [intent] if created else [])
        return await self.settled(order_id)

    async def settled(self, order_id: int) -> Order:
        """The order once the processor has decided it, or as it is when the wait runs out."""
        return (await self.settled_all([order_id]))[0]

    async def settled_all(self, order_ids: Sequence[int]) -> list[Order]:
        """The orders once the processor has taken each past a state it has still to decide
        (PENDING, SUBMITTED, PENDING_CANCEL, PENDING_UPDATE), or as they are when the wait
        runs out."""
        wait = float(str(self.ctx.extras.get(SUBMIT_WAIT_KEY, DEFAULT_SUBMIT_WAIT)))
        if self.ctx.bus is None:
            wait = 0.0  # nothing carries the order to a processor, so nothing to wait for
        deadline = time.monotonic() + wait
        delay = 0.005
        while True:
            # A short transaction per look: SQLite holds its write lock for a transaction.
            async with self.ctx.sessions() as session:
                desk = OrderDesk(session, self.user.id, now=self.desk.now, reader=self.desk.reader)
                rows = [await desk.get(order_id) for order_id in order_ids]
            undecided = any(row.status in _UNDECIDED for row in rows)
            if not undecided or time.monotonic() >= deadline:
                return rows
            await asyncio.sleep(min(delay, max(deadline - time.monotonic(), 0)))
            delay = min(delay * 2, 0.1)

    # -- reading -------------------------------------------------------------

    async def get(self, order_id: int) -> tuple[Order, Sequence[CheckVerdict]]:
        return await self.desk.order(order_id)

    async def search(self, filters: OrderFilters, limit: int, offset: int) -> Page[Order]:
        return await self.desk.orders(filters, limit, offset)

    async def fills(
        self,
        limit: int,
        offset: int,
        broker_account_id: int | None,
        order_id: int | None,
        symbol: str | None,
    ) -> Page[Fill]:
        return await self.desk.fills(
            limit, offset, broker_account_id=broker_account_id, order_id=order_id, symbol=symbol
        )

    async def positions(
        self, limit: int, offset: int, broker_account_id: int | None, open_only: bool
    ) -> PageOut[PositionPublic]:
        items, total = await self.desk.positions(
            limit, offset, broker_account_id=broker_account_id, open_only=open_only
        )
        return PageOut[PositionPublic](
            items=[_position(p) for p in items], total=total, limit=limit, offset=offset
        )

    async def summary(self, account_id: int) -> AccountSummary:
        return await self.desk.summary(account_id)

    # -- changing ------------------------------------------------------------

    async def modify(self, order_id: int, body: OrderUpdate) -> Order:
        """Ask for the change, then answer with its outcome: the order with its new terms,
        422 ``risk_denied`` (``invalid_change``) when the processor refused it, or the order
        still PENDING_UPDATE when the wait ran out."""
        _, command = await self.desk.modify(
            order_id,
            quantity=body.quantity,
            limit_price=body.limit_price,
            trigger_price=body.trigger_price,
        )
        self._queue_events()
        await dispatch(self.ctx, self.uow, [command])
        after = await self.settled(order_id)
        if after.version > command.version and after.reason_code in _CHANGE_REFUSALS:
            refused = after.reason_code == "change_denied"
            raise Unprocessable(
                f"the change was {'denied' if refused else 'refused'}: {after.reason}",
                code="risk_denied" if refused else "invalid_change",
                details=[{"field": "order", "message": after.reason or ""}],
            )
        return after

    async def cancel(self, order_id: int) -> Order:
        """Ask for the cancel, then answer with the order once the processor has carried it
        out (CANCELLED, or FILLED if it filled first), or still PENDING_CANCEL after the wait."""
        _, command = await self.desk.cancel(order_id)
        self._queue_events()
        await dispatch(self.ctx, self.uow, [command])
        return await self.settled(order_id)

    async def cancel_all(self, broker_account_id: int | None, symbol: str | None) -> list[Order]:
        rows, commands = await self.desk.cancel_all(
            broker_account_id=broker_account_id, symbol=symbol
        )
        order_ids = [row.id for row in rows]
        self._queue_events()
        await dispatch(self.ctx, self.uow, commands)
        return await self.settled_all(order_ids) if order_ids else []


async def dispatch(
    ctx: GatewayContext, uow: UnitOfWork, intents: Sequence[OrderIntent | OrderCommand]
) -> None:
    """Commit the request's transaction, announce its events, then hand new orders and
    requests (cancels, changes) on.

    The events go out before the intents, so an order's PENDING state is on the
    bus before the processor can publish anything later of it.
    """
    await uow.commit()
    await submit(ctx.bus, intents)


def _position(p: MarkedPosition) -> PositionPublic:
    row = p.row
    return PositionPublic(
        id=row.id,
        broker_account_id=row.broker_account_id,
        symbol=row.symbol,
        product=Product(row.product),
        quantity=row.quantity,
        average_price=row.average_price,
        realised_pnl=row.realised_pnl,
        last_price=p.mark,
        market_value=p.market_value,
        unrealised_pnl=p.unrealised_pnl,
        updated_at=row.updated_at,
    )
