"""The order processor's application interface: the one module other packages import.

Every use of the order path from outside the package goes through here:
placing, cancelling and modifying orders, cancel-all, halts, resumes and
liquidation, and reading orders, fills, positions, risk decisions and account
summaries. The rest of ``order_processor`` is private to it (import-linter
holds that boundary in CI), so the way a command reaches the account's writer
can change without touching a caller.

The caller owns the transaction: an ``OrderDesk`` writes in the session it is
given (a new order PENDING; a cancel or change as a request stored with the
order, PENDING_CANCEL or PENDING_UPDATE) and collects the events of its changes
in an ``Outbox``; the caller commits, then ``announce``s the events, then
``submit``s the new intents and commands to the processor's stream, in that
order, so the request's state is on the bus before any later state of the order
can be. The order processor that owns the account carries out every request
and writes every outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from order_processor.accounting import AccountReader, AccountSummary, MarkedPosition
from order_processor.catalog import TradingCatalog, default_catalog
from order_processor.config import DEFAULT_OPTIONS
from order_processor.events import Outbox
from order_processor.killswitch import KillSwitch, KillSwitchResult
from order_processor.prices import LastPrices
from order_processor.repositories import (
    AccountRepository,
    CheckVerdict,
    FillRepository,
    HaltRepository,
    OrderFilters,
    OrderRepository,
    PositionRepository,
    RiskDecisionRepository,
)
from order_processor.service import IdempotencyKeyReused, NothingToClose, OrderService
from shared.bus import EventBus
from shared.contracts import OrderCommand, OrderIntent, Product, intent_stream
from shared.models import Fill, Order, TradingHalt
from shared.repository import Page
from shared.tickstore import TickStore

log = logging.getLogger(__name__)

__all__ = [
    "AccountReader",
    "AccountSummary",
    "CheckVerdict",
    "IdempotencyKeyReused",
    "KillSwitchResult",
    "MarkedPosition",
    "NothingToClose",
    "OrderDesk",
    "OrderFilters",
    "Outbox",
    "TradingControl",
    "reader_for",
    "submit",
]


def reader_for(tickstore: TickStore | None, catalog: TradingCatalog | None = None) -> AccountReader:
    """An account reader for a process that is not fed by the tick stream (the API).

    Every price read asks the tick store, so no mark goes stale; equity trackers
    are incremental caches, so keep one reader per process.
    """
    return AccountReader(
        catalog if catalog is not None else default_catalog(),
        LastPrices(tickstore, remember=False),
    )


async def submit(bus: EventBus | None, messages: Sequence[OrderIntent | OrderCommand]) -> None:
    """Hand committed PENDING orders and requests (cancel, change) to the processor's stream.

    An append that fails (the bus is away) leaves the order PENDING (PENDING_CANCEL,
    PENDING_UPDATE) in the database; the processor's sweeper takes it up a few seconds later.
    """
    if bus is None:
        return
    for message in messages:
        try:
            await bus.append(
                intent_stream(message.broker_account_id),
                message,
                maxlen=DEFAULT_OPTIONS.stream_maxlen,
            )
        except Exception as exc:
            log.warning("%r left for the sweeper: %r", message, exc)


class OrderDesk:
    """One user's orders, positions and accounts, inside the caller's transaction."""

    def __init__(
        self,
        session: AsyncSession,
        user_id: int,
        *,
        now: datetime,
        reader: AccountReader,
        outbox: Outbox | None = None,
    ) -> None:
        self.session = session
        self.user_id = user_id
        self.now = now
        self.reader = reader
        self.outbox = outbox if outbox is not None else Outbox()
        self._service = OrderService(
            session, user_id, now=now, catalog=reader.catalog, outbox=self.outbox
        )

    # -- commands --------------------------------------------------------------

    async def place(self, intent: OrderIntent) -> tuple[Order, bool]:
        """Store the intent's order PENDING (idempotent by client order id).

        Returns the order and whether it is new; a new order's intent must be
        ``submit``ted once the transaction has committed and been announced.
        """
        return await self._service.accept(intent)

    async def close_position(
        self,
        broker_account_id: int,
        symbol: str,
        product: Product,
        *,
        max_quantity: Decimal | None = None,
        client_order_id: str | None = None,
    ) -> tuple[Order, OrderIntent, bool]:
        """A market order closing the open position (net of exits already working), never
        flipping it; 409 ``nothing_to_exit`` when nothing is left to close. Returns the PENDING
        order, its close intent (``submit`` it after commit when new) and whether it is new."""
        return await self._service.close_position(
            broker_account_id,
            symbol,
            product,
            max_quantity=max_quantity,
            client_order_id=client_order_id,
        )

    async def cancel(self, order_id: int) -> tuple[Order, OrderCommand]:
        """Ask for the order to be cancelled: it is PENDING_CANCEL until the account's
        processor has carried out the returned command (``submit`` it after commit)."""
        return await self._service.cancel(order_id)

    async def cancel_all(
        self, *, broker_account_id: int | None, symbol: str | None
    ) -> tuple[list[Order], list[OrderCommand]]:
        return await self._service.cancel_open(
            account_id=broker_account_id, symbol=symbol, reason="cancelled"
        )

    async def modify(
        self,
        order_id: int,
        *,
        quantity: Decimal | None,
        limit_price: Decimal | None,
        trigger_price: Decimal | None,
    ) -> tuple[Order, OrderCommand]:
        """Ask for new terms: the order is PENDING_UPDATE until the processor has checked
        them against the risk chain and applied (or refused) them; ``submit`` the command."""
        return await self._service.modify(
            order_id,
            quantity=quantity,
            limit_price=limit_price,
            trigger_price=trigger_price,
        )

    # -- reads -----------------------------------------------------------------

    async def get(self, order_id: int) -> Order:
        return await OrderRepository(self.session, self.user_id).get(order_id)

    async def order(self, order_id: int) -> tuple[Order, Sequence[CheckVerdict]]:
        row = await OrderRepository(self.session, self.user_id).get(order_id)
        decisions = await RiskDecisionRepository(self.session, self.user_id).for_order(row.id)
        return row, decisions

    async def orders(self, filters: OrderFilters, limit: int, offset: int) -> Page[Order]:
        return await OrderRepository(self.session, self.user_id).search(filters, limit, offset)

    async def fills(
        self,
        limit: int,
        offset: int,
        *,
        broker_account_id: int | None = None,
        order_id: int | None = None,
        symbol: str | None = None,
    ) -> Page[Fill]:
        return await FillRepository(self.session, self.user_id).search(
            limit, offset, broker_account_id=broker_account_id, order_id=order_id, symbol=symbol
        )

    async def positions(
        self, limit: int, offset: int, *, broker_account_id: int | None, open_only: bool
    ) -> tuple[list[MarkedPosition], int]:
        page = await PositionRepository(self.session, self.user_id).search(
            limit, offset, broker_account_id=broker_account_id, open_only=open_only
        )
        marks = await self.reader.prices.fetch(p.symbol for p in page.items if p.quantity)
        return [MarkedPosition(p, marks.get(p.symbol)) for p in page.items], page.total

    async def summary(self, broker_account_id: int) -> AccountSummary:
        account = await AccountRepository(self.session, self.user_id).get(broker_account_id)
        return await self.reader.summary(self.session, account, self.now)


class TradingControl:
    """The kill switch, acted by ``actor_id`` (an admin, a user on themself, or None: the
    platform itself, the command line's system actor)."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        actor_id: int | None,
        now: datetime,
        catalog: TradingCatalog | None = None,
        outbox: Outbox | None = None,
        ip_address: str | None = None,
    ) -> None:
        self.outbox = outbox if outbox is not None else Outbox()
        self.session = session
        self._switch = KillSwitch(
            session,
            actor_id=actor_id,
            now=now,
            catalog=catalog if catalog is not None else default_catalog(),
            outbox=self.outbox,
            ip_address=ip_address,
        )

    async def halt(self, user_id: int | None, reason: str) -> KillSwitchResult:
        """Halt one user (None: everyone); their sent, unfinished orders are cancelled."""
        return await self._switch.halt(user_id, reason)

    async def resume(self, user_id: int | None, *, as_admin: bool) -> KillSwitchResult:
        return await self._switch.resume(user_id, as_admin=as_admin)

    async def liquidate(self, user_id: int | None) -> KillSwitchResult:
        """Market orders closing every open position; ``submit`` ``result.intents`` after commit."""
        return await self._switch.liquidate(user_id)

    async def halts_of(self, user_id: int) -> Sequence[TradingHalt]:
        """The halts that stop ``user_id``'s trading now (their own, an admin's, the global one)."""
        return await HaltRepository(self.session).active_for(user_id)

    async def active_halts(self) -> Sequence[TradingHalt]:
        return await HaltRepository(self.session).all_active()
