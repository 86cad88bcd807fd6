"""Order use cases shared by the API and the processor: accept, close a position, cancel, modify.

Services never commit: the caller (a request, the stream consumer) owns the
transaction. Each returns the rows it changed and fills ``outbox`` with the
events to publish once the caller has committed.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from order_processor.accounting import AccountReader
from order_processor.catalog import TradingCatalog
from order_processor.domain.closing import Closing, closing_order
from order_processor.domain.orders import (
    InvalidOrder,
    OrderError,
    ensure_valid,
    order_from_intent,
)
from order_processor.domain.orders import Order as DomainOrder
from order_processor.domain.risk import build_chain
from order_processor.domain.states import CANCELLABLE_STATES, MODIFIABLE_STATES
from order_processor.events import Outbox
from order_processor.records import (
    EXIT_TAG_PREFIX,
    apply_to_row,
    is_exit_intent,
    request_hash,
    row_from_intent,
    to_domain,
    working_quantities,
)
from order_processor.repositories.accounts import AccountRepository
from order_processor.repositories.book import PositionRepository, RiskDecisionRepository
from order_processor.repositories.control import LimitsRepository
from order_processor.repositories.orders import OrderRepository
from shared.contracts import OrderCommand, OrderIntent, OrderStatus, OrderType, Origin, Product
from shared.errors import Conflict, Unprocessable
from shared.models import BrokerAccount, Order

S = OrderStatus


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"


class NothingToClose(Conflict):
    code = "nothing_to_exit"


class CurrencyMismatch(Unprocessable):
    code = "currency_mismatch"


def currency_refusal(
    catalog: TradingCatalog, account: BrokerAccount, symbol: str, *, origin: str, closing: bool
) -> str | None:
    """Why ``account`` may not trade ``symbol`` (quoted in another currency), or None.

    Nothing converts between currencies yet, so such an order is refused rather than
    booked at a price in the wrong currency. Platform orders (square-off, liquidation)
    and strategy exits only close what the account already holds, so they pass.
    """
    quoted = catalog.currency(symbol)
    if quoted == account.currency or origin == "system" or closing:
        return None
    return (
        f"{symbol} is quoted in {quoted} but broker account {account.id} is in "
        f"{account.currency}; trade it from a {quoted} account (no currency conversion yet)"
    )


def check_intent(catalog: TradingCatalog, account: BrokerAccount, intent: OrderIntent) -> None:
    """Refuse an intent that can never become an order: the account (``intent``'s, its
    user's) is not active, the symbol is unknown or quoted in another currency, or the
    order is malformed."""
    if not account.is_active and intent.origin != "system":
        raise Conflict("this broker account is not active", code="account_inactive")
    instrument = catalog.instrument(intent.symbol)  # 404 unknown_instrument
    refusal = currency_refusal(
        catalog,
        account,
        intent.symbol,
        origin=intent.origin,
        closing=is_exit_intent(intent),
    )
    if refusal is not None:
        raise CurrencyMismatch(refusal, details=[{"field": "symbol", "message": refusal}])
    if is_exit_intent(intent):
        return
    if (intent.algo_tag or "").startswith(EXIT_TAG_PREFIX):
        raise Unprocessable(
            f"algo_tag may not start with {EXIT_TAG_PREFIX!r}: send a close intent",
            code="reserved_algo_tag",
            details=[{"field": "algo_tag", "message": "reserved for exits"}],
        )
    ensure_valid(order_from_intent(intent), instrument)


class OrderService:
    """One user's orders."""

    def __init__(
        self,
        session: AsyncSession,
        user_id: int,
        *,
        now: datetime,
        catalog: TradingCatalog,
        outbox: Outbox | None = None,
    ) -> None:
        self.session = session
        self.user_id = user_id
        self.now = now
        self.catalog = catalog
        self.outbox = outbox if outbox is not None else Outbox()
        self.orders = OrderRepository(session, user_id)
        self.accounts = AccountRepository(session, user_id)

    # -- placing -----------------------------------------------------------

    async def accept(
        self, intent: OrderIntent, *, account: BrokerAccount | None = None
    ) -> tuple[Order, bool]:
        """Store ``intent`` as a PENDING order, or return the order its key already made.

        The same client order id with the same request is an idempotent replay
        (the stored order comes back unchanged, ``created`` False); with another
        request it is refused (422 ``idempotency_key_reused``). ``account`` is the
        intent's account if the caller holds it already (locked).
        """
        if intent.user_id != self.user_id:
            raise ValueError("intent of another user")
        digest = request_hash(intent)
        existing = await self.orders.by_key(intent.client_order_id)
        if existing is not None:
            return self._replay(existing, digest), False
        await self._check(intent, account)
        closing = await self._closing(intent) if is_exit_intent(intent) else None
        row = row_from_intent(intent, digest, closing)
        if await self.orders.insert(row):
            self.outbox.order(row, self.now)
            return row, True
        # A concurrent request with this key committed first.
        existing = await self.orders.by_key(intent.client_order_id)
        assert existing is not None
        return self._replay(existing, digest), False

    def _replay(self, row: Order, digest: str) -> Order:
        if row.request_hash != digest:
            raise IdempotencyKeyReused(
                f"client_order_id {row.client_order_id!r} was used for a different order",
                details=[{"field": "client_order_id", "message": "already used with another body"}],
            )
        return row

    async def _check(self, intent: OrderIntent, account: BrokerAccount | None) -> None:
        if account is None or account.id != intent.broker_account_id:
            account = await self.accounts.get(intent.broker_account_id)
        check_intent(self.catalog, account, intent)

    async def _closing(self, intent: OrderIntent) -> Closing | None:
        """A close intent's order as the book stands: the position net of working exits."""
        position = await PositionRepository(self.session, self.user_id).for_key(
            intent.broker_account_id, intent.symbol, intent.product.value
        )
        working = await self.orders.open_for_account(intent.broker_account_id)
        return closing_order(
            position.quantity if position is not None else Decimal(0),
            working_quantities(working, intent.symbol, intent.product),
            intent.quantity,
        )

    # -- closing a position ------------------------------------------------

    async def close_position(
        self,
        broker_account_id: int,
        symbol: str,
        product: Product,
        *,
        max_quantity: Decimal | None = None,
        client_order_id: str | None = None,
        origin: Origin = "manual",
        algo_tag: str | None = None,
    ) -> tuple[Order, OrderIntent, bool]:
        """Store the exit of one position (PENDING) and return it with its close intent.

        Returns ``(order, intent, created)``: submit ``intent`` to the processor after
        commit when ``created`` (False: a replay of ``client_order_id``). The order
        closes the open quantity net of exits already working, at most
        ``max_quantity``; the processor sizes it again under the account lock when it
        decides it, so it never takes the position through zero. 409
        ``nothing_to_exit`` when there is nothing left to close.
        """
        intent = OrderIntent(
            client_order_id=client_order_id or f"close-{uuid.uuid4().hex}",
            user_id=self.user_id,
            broker_account_id=broker_account_id,
            symbol=symbol,
            quantity=max_quantity,
            product=product,
            origin=origin,
            algo_tag=algo_tag,
            created_at=self.now,
            purpose="close",
        )
        account = await self.accounts.lock(broker_account_id)
        replayed = await self.orders.by_key(intent.client_order_id) is not None
        if not replayed and await self._closing(intent) is None:
            raise NothingToClose(f"no open {product} position in {symbol} left to close")
        row, created = await self.accept(intent, account=account)
        return row, intent, created

    # -- cancelling --------------------------------------------------------

    async def cancel(
        self, order_id: int, *, reason: str = "cancelled"
    ) -> tuple[Order, OrderCommand]:
        """Ask for a sent, unfinished order to be cancelled: it moves to PENDING_CANCEL and the
        returned command (``submit`` it after commit) has the account's processor carry it out.

        Asking again while the cancel is under way returns the order and the command again
        (the processor carries a command out once). 409 if the order is finished or still
        being decided.
        """
        head = await self.orders.get(order_id)
        await self.accounts.lock(head.broker_account_id)
        row = await self.orders.get(order_id, for_update=True)
        if row.status == S.PENDING:
            raise Conflict(
                "the order is being checked; cancel it again in a moment", code="order_pending"
            )
        if row.status != S.PENDING_CANCEL:
            if S(row.status) not in CANCELLABLE_STATES:
                raise Conflict(f"a {row.status} order cannot be cancelled", code="order_not_open")
            self._ask_cancel(row, reason)
        return row, self._command("cancel", row)

    async def cancel_open(
        self, *, account_id: int | None = None, symbol: str | None = None, reason: str
    ) -> tuple[list[Order], list[OrderCommand]]:
        """Ask for every sent, unfinished order (of one account or symbol) to be cancelled;
        accounts are locked first. Returns the orders (PENDING_CANCEL) and their commands."""
        if account_id is None:
            await self.accounts.lock_all()
        else:
            await self.accounts.lock(account_id)
        rows = await self.orders.cancellable(account_id=account_id, symbol=symbol)
        for row in rows:
            self._ask_cancel(row, reason)
        return list(rows), [self._command("cancel", row) for row in rows]

    def _ask_cancel(self, row: Order, reason: str) -> None:
        asked = to_domain(row).with_status(S.PENDING_CANCEL, self.now, reason_code=reason)
        apply_to_row(asked, row)
        self.outbox.order(row, self.now)

    def _command(self, action: Literal["cancel", "modify"], row: Order) -> OrderCommand:
        return OrderCommand(
            action=action,
            user_id=row.user_id,
            broker_account_id=row.broker_account_id,
            order_id=row.id,
            version=row.version,
            created_at=self.now,
        )

    # -- modifying ---------------------------------------------------------

    async def modify(
        self,
        order_id: int,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        trigger_price: Decimal | None = None,
    ) -> tuple[Order, OrderCommand]:
        """Ask for a working order's quantity or prices to change: the order moves to
        PENDING_UPDATE with the requested terms, and the returned command (``submit`` it after
        commit) has the account's processor check the change against the risk chain and apply
        it, or refuse it (the order then rests unchanged, ``reason_code`` ``change_denied``).

        A malformed change is refused here (422) and stores nothing; one change at a time
        (409 ``change_pending``).
        """
        head = await self.orders.get(order_id)
        await self.accounts.lock(head.broker_account_id)
        row = await self.orders.get(order_id, for_update=True)
        stored = to_domain(row)
        if stored.status is S.PENDING_UPDATE:
            raise Conflict(
                "a change of this order is under way; change it again in a moment",
                code="change_pending",
            )
        if stored.status not in MODIFIABLE_STATES:
            raise Conflict(f"a {row.status} order cannot be changed", code="order_not_open")
        if stored.order_type is OrderType.MARKET and (limit_price or trigger_price):
            raise Unprocessable("a market order has no prices to change", code="not_modifiable")
        amended = amended_order(stored, quantity, limit_price, trigger_price, self.now)
        ensure_valid(amended, self.catalog.instrument(stored.symbol))
        row.amend_quantity = quantity
        row.amend_limit_price = limit_price
        row.amend_trigger_price = trigger_price
        apply_to_row(stored.with_status(S.PENDING_UPDATE, self.now), row)
        self.outbox.order(row, self.now)
        return row, self._command("modify", row)


def amended_order(
    stored: DomainOrder,
    quantity: Decimal | None,
    limit_price: Decimal | None,
    trigger_price: Decimal | None,
    now: datetime,
) -> DomainOrder:
    """``stored`` with the asked terms (None keeps a term), resting again; 422 when the new
    quantity is not above what has filled already."""
    amended = replace(
        stored,
        quantity=stored.quantity if quantity is None else quantity,
        limit_price=stored.limit_price if limit_price is None else limit_price,
        trigger_price=stored.trigger_price if trigger_price is None else trigger_price,
        status=stored.resting_status,
        updated_at=now,
    )
    if amended.quantity <= stored.filled_quantity:
        raise InvalidOrder(
            [
                OrderError(
                    "quantity_not_above_filled",
                    "quantity",
                    f"{stored.filled_quantity} are filled already; ask for more than that",
                )
            ]
        )
    return amended


async def check_change(
    session: AsyncSession,
    reader: AccountReader,
    account: BrokerAccount,
    amended: DomainOrder,
    now: datetime,
) -> str | None:
    """The risk chain on the rest of a changed order, as if placed now against the account
    without it; the decisions are recorded with the order's (prefixed ``modify:``). Returns
    the denial's message, or None when the change passes."""
    probe = replace(
        amended,
        quantity=amended.remaining_quantity,
        filled_quantity=Decimal(0),
        filled_value=Decimal(0),
        fill_count=0,
        status=S.PENDING,
    )
    chain = build_chain(await LimitsRepository(session, amended.user_id).get())
    result = chain.evaluate(probe, await reader.risk_view(session, account, probe, now))
    await RiskDecisionRepository(session, amended.user_id).record(
        amended.order_id, result.decisions, now, prefix="modify: "
    )
    return None if result.denial is None else result.denial.message
