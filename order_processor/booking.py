"""Broker events into the database: status moves, and each fill with its position and ledger.

The events of one broker report are booked per account, each account's in one
transaction under the account lock (accounts side by side), then the
order, fill and position events go out on the user's channel. Booking is
idempotent and tolerates events arriving late or twice: a fill is booked only
if it is the order's next fill (``fill_count + 1``), a status move only if the
state machine allows it from the stored status.

The stored order wins over the broker's copy. Cancels and changes reach the
broker through the order processor (``OrderProcessor.carry_out``), so the two
agree; should the broker still report something about terms the database no
longer holds (a booking that failed, a restart between the two), the event is
void and the broker is brought in line (cancel, or modify to the stored
terms). For the paper broker this is exact: the database is its book of record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import String, Table, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from order_processor.accounting import AccountReader
from order_processor.brokers.base import BrokerAdapter, BrokerEvent, BrokerRejected
from order_processor.catalog import TradingCatalog
from order_processor.domain.account import settle
from order_processor.domain.fills import Fill as DomainFill
from order_processor.domain.ledger import LedgerEntry as DomainLedgerEntry
from order_processor.domain.money import ZERO
from order_processor.domain.orders import Order
from order_processor.domain.paper import (
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
)
from order_processor.domain.positions import Position as DomainPosition
from order_processor.domain.states import can_transition
from order_processor.events import (
    Fence,
    Outbox,
    account_event,
    fill_event,
    no_fence,
    position_event,
)
from order_processor.records import apply_to_row, same_terms, to_domain
from order_processor.repositories.accounts import AccountRepository
from order_processor.repositories.orders import load_orders, update_orders
from shared.batch_sql import insert_rows, next_ids, on_postgres
from shared.bus import EventBus
from shared.contracts import OrderStatus, Product, order_partition, user_channel
from shared.db import transaction
from shared.errors import NotFound
from shared.models import Fill, LedgerEntry, Position
from shared.models import Order as OrderRow
from shared.outbox import Relay

log = logging.getLogger(__name__)

_POSITIONS_OF = select(Position).where(
    Position.user_id == bindparam("user_id"),
    Position.broker_account_id == bindparam("account_id"),
)
_POSITIONS = _POSITIONS_OF.where(Position.symbol == any_(bindparam("symbols", type_=ARRAY(String))))
"""PostgreSQL: an account's positions in some symbols (one text, built once)."""

S = OrderStatus


class Booker:
    """Books broker events; ``apply`` is the broker's event listener."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus | None,
        catalog: TradingCatalog,
        broker: BrokerAdapter,
        *,
        concurrency: int = 8,
        reader: AccountReader | None = None,
        relay: Relay | None = None,
        fence: Fence | None = None,
    ) -> None:
        self.fence = fence if fence is not None else no_fence
        self.relay = relay if relay is not None else Relay(sessions, bus)
        self.reader = reader  # when set, each booking also publishes the marked account
        self.sessions = sessions
        self.bus = bus
        self.catalog = catalog
        self.broker = broker
        self.failures = 0
        self._slots = asyncio.Semaphore(concurrency)

    async def apply(self, events: Sequence[BrokerEvent]) -> None:
        """Book events: one transaction per account, accounts side by side.

        A tick can fill the orders of many accounts at once; each account's
        events are booked together, in the order the broker reported them.
        """
        groups: dict[tuple[int, int], list[BrokerEvent]] = {}
        for event in events:
            key = (event.order.user_id, event.order.broker_account_id)
            groups.setdefault(key, []).append(event)
        if len(groups) == 1:
            await self._apply_safely(*next(iter(groups.items())))
            return
        await asyncio.gather(*(self._apply_safely(k, group) for k, group in groups.items()))

    async def apply_one(self, event: BrokerEvent) -> None:
        """Book one event (raises if it cannot be booked)."""
        await self._apply_account((event.order.user_id, event.order.broker_account_id), [event])

    async def _apply_safely(self, key: tuple[int, int], events: list[BrokerEvent]) -> None:
        async with self._slots:
            try:
                await self._apply_account(key, events)
            except Exception:
                # The broker's view is ahead of the database now; the processor's
                # resync puts the stored working orders back in the paper book.
                self.failures += 1
                log.exception("booking %d events of account %s failed", len(events), key[1])

    async def _apply_account(self, key: tuple[int, int], events: list[BrokerEvent]) -> None:
        outbox = Outbox()
        stale: list[Order] = []
        try:
            await self._book_in_transaction(key, events, outbox, stale)
        except BaseException:
            # The account's equity model may have read this transaction's fills (the
            # summary): they were not committed, so it is read again from the database.
            if self.reader is not None:
                self.reader.forget(key[1])
            raise
        await self.relay.send(outbox)
        for order in stale:
            await self._realign(order)

    async def _book_in_transaction(
        self,
        key: tuple[int, int],
        events: list[BrokerEvent],
        outbox: Outbox,
        stale: list[Order],
    ) -> None:
        user_id, account_id = key
        async with transaction(self.sessions) as session:
            try:
                account = await AccountRepository(session, user_id).lock(account_id)
            except NotFound:
                stale = [e.order for e in events]
            else:
                await self.fence(session, {order_partition(account_id)})
                rows = await self._rows(session, user_id, [e.order for e in events])
                positions = await self._positions(session, user_id, account_id, events)
                booked: list[_Booked] = []
                changed: dict[int, OrderRow] = {}
                for event in events:
                    row = rows.get(_ref(event.order))
                    if row is None:
                        stale.append(event.order)
                        continue
                    outdated, moved = self.book_status(row, event, outbox)
                    if outdated is not None:
                        stale.append(outdated)
                    if moved:
                        changed[row.id] = row
                    if moved and isinstance(event, OrderFilled):
                        booked.append(self._book_fill(session, row, event, outbox, positions))
                await update_orders(session, list(changed.values()))
                if booked:
                    await _store_fills(session, booked, outbox)
                if booked and self.reader is not None:
                    as_of = max(e.fill.ts for e in events if isinstance(e, OrderFilled))
                    summary = await self.reader.summary(session, account, as_of)
                    outbox.add(user_channel(user_id), account_event(user_id, summary))
            await outbox.stage(session, max(e.ts for e in events))

    async def _rows(
        self, session: AsyncSession, user_id: int, orders: Sequence[Order]
    ) -> dict[int | str, OrderRow]:
        """The stored orders of the events, by id (by client order id for orders the broker
        knows without one); one query. The account lock, held, covers them: every writer
        takes it first. The rows are outside the session: what moves is written back by
        ``update_orders``."""
        ids = {o.order_id for o in orders if o.order_id is not None}
        keys = {o.client_order_id for o in orders if o.order_id is None}
        out: dict[int | str, OrderRow] = {}
        for row in await load_orders(session, user_id, ids, keys):
            out[row.id] = row
            out[row.client_order_id] = row
        return out

    async def _positions(
        self, session: AsyncSession, user_id: int, account_id: int, events: Sequence[BrokerEvent]
    ) -> dict[tuple[str, str], Position]:
        """The stored positions the events' fills may move; one query."""
        symbols = {e.fill.symbol for e in events if isinstance(e, OrderFilled)}
        if not symbols:
            return {}
        params = {"user_id": user_id, "account_id": account_id}
        if on_postgres(session):
            found = await session.scalars(_POSITIONS, {**params, "symbols": list(symbols)})
        else:
            found = await session.scalars(
                _POSITIONS_OF.where(Position.symbol.in_(list(symbols))), params
            )
        return {(p.symbol, p.product): p for p in found.all()}

    def book_status(
        self,
        row: OrderRow,
        event: BrokerEvent,
        outbox: Outbox | None,
        stored: Order | None = None,
    ) -> tuple[Order | None, bool]:
        """Apply the event's status move to ``row``, announcing it in ``outbox`` (None: the
        caller announces the row itself, once, after every move it makes). ``stored`` is
        the row as a domain order when the caller has it (it just wrote it to the row).

        Returns the stored order when the broker's copy is stale (else None), and
        whether the row moved.
        """
        if stored is None:
            stored = to_domain(row)
        ts = event.ts
        new: Order | None = None
        if isinstance(event, OrderFilled):
            if event.fill.seq <= stored.fill_count:
                return None, False  # booked already
            if stored.is_terminal or not same_terms(stored, event.order):
                return stored, False
            if event.fill.seq != stored.fill_count + 1:
                log.error("fill %s skips a fill; not booked", event.fill.fill_key)
                return None, False
            new = stored.with_fill(event.fill.quantity, event.fill.price, ts)
            if event.order.triggered_at is not None and stored.triggered_at is None:
                new = new.with_trigger(event.order.triggered_at)
        elif isinstance(event, OrderTriggered):
            if stored.is_terminal or stored.triggered_at is not None:
                return None, False
            new = stored.with_trigger(ts)
        elif isinstance(event, OrderAccepted):
            if stored.status in (S.SUBMITTED, S.UNKNOWN):
                new = stored.with_status(S.OPEN, ts)
            elif stored.is_terminal:
                return stored, False
        elif isinstance(event, OrderRejected):
            if stored.status in (S.SUBMITTED, S.UNKNOWN):
                new = stored.with_status(
                    S.REJECTED, ts, reason_code=event.code, reason=event.message
                )
        elif isinstance(event, OrderExpired | OrderCancelled):
            target = S.EXPIRED if isinstance(event, OrderExpired) else S.CANCELLED
            if not stored.is_terminal and can_transition(stored.status, target):
                code: str | None
                if isinstance(event, OrderExpired):
                    code = event.reason
                elif stored.status is S.PENDING_CANCEL:
                    code = stored.reason_code  # why it was asked: by the user, by a halt
                else:
                    code = event.order.reason_code
                new = stored.with_status(target, ts, reason_code=code)
        if new is None:
            return None, False
        apply_to_row(new, row)
        if outbox is not None:
            outbox.order(row, ts)
        return None, True

    def _book_fill(
        self,
        session: AsyncSession,
        row: OrderRow,
        event: OrderFilled,
        outbox: Outbox,
        positions: dict[tuple[str, str], Position],
    ) -> _Booked:
        """The fill's row and its ledger entries (stored by ``_store_fills``), and its position
        moved."""
        fill = event.fill
        position = self._position_row(session, row, fill, positions)
        # The account model's rule for a fill (charges, position after it, ledger entries).
        settled = settle(fill, _domain_position(position), self.catalog.fee_model(fill.symbol))
        charges = settled.charges
        fill_row = {
            "order_id": row.id,
            "user_id": row.user_id,
            "broker_account_id": row.broker_account_id,
            "symbol": fill.symbol,
            "side": fill.side.value,
            "quantity": fill.quantity,
            "price": fill.price,
            "charges": charges.total,
            "charges_detail": {k: str(v) for k, v in charges.items().items() if v},
            "ts": fill.ts,
        }
        position.quantity = settled.position.quantity
        position.average_price = settled.position.average_price
        position.realised_pnl = settled.position.realised_pnl
        position.updated_at = fill.ts  # event time, never the wall clock
        return _Booked(row, fill, fill_row, settled.entries, position)

    def _position_row(
        self,
        session: AsyncSession,
        order: OrderRow,
        fill: DomainFill,
        positions: dict[tuple[str, str], Position],
    ) -> Position:
        """The stored position the fill moves (added flat if there is none yet)."""
        key = (fill.symbol, fill.product.value)
        row = positions.get(key)
        if row is None:
            row = Position(
                user_id=order.user_id,
                broker_account_id=order.broker_account_id,
                symbol=fill.symbol,
                product=fill.product.value,
                quantity=ZERO,
                average_price=ZERO,
                realised_pnl=ZERO,
                updated_at=fill.ts,
            )
            session.add(row)
            positions[key] = row
        return row

    async def _realign(self, stored: Order) -> None:
        """Bring the broker in line with the stored order (cancelled, or changed terms)."""
        try:
            if stored.is_working:
                await self.broker.modify(stored)
                return
            events = await self.broker.cancel(stored.key)
        except BrokerRejected:
            return  # the broker no longer holds it: nothing to undo
        await self.apply(events)


@dataclass
class _Booked:
    """A fill to store: its ``fills`` row, its ledger entries, the position it moved."""

    order: OrderRow
    fill: DomainFill
    row: dict[str, Any]
    entries: Sequence[DomainLedgerEntry]
    position: Position


async def _store_fills(session: AsyncSession, booked: Sequence[_Booked], outbox: Outbox) -> None:
    """Insert the fills (one statement, their ids taken first), then their ledger entries
    (one statement); the fill and position events follow the fills."""
    await session.flush()  # the positions' changes first, as one unit of work
    # Ids first: one insert text whatever the number of fills (an insert returning its ids
    # goes row by row on SQLite).
    ids = await next_ids(session, "fills", len(booked))
    await insert_rows(
        session,
        cast(Table, Fill.__table__),
        [{"id": i, **b.row} for i, b in zip(ids, booked, strict=True)],
    )
    ledger = [
        {
            "user_id": b.row["user_id"],
            "broker_account_id": b.row["broker_account_id"],
            "ts": entry.ts,
            "kind": entry.kind.value,
            "amount": entry.amount,
            "order_id": b.row["order_id"],
            "fill_id": fill_id,
            "description": _describe(entry.item, b.fill),
        }
        for b, fill_id in zip(booked, ids, strict=True)
        for entry in b.entries
    ]
    await insert_rows(session, cast(Table, LedgerEntry.__table__), ledger)
    # A position's event follows the last of its fills here, with the position as the
    # transaction leaves it: a consumer keeps the newest state of a position, so the states
    # between its fills of one booking would be replaced before anyone could use them.
    last = {id(b.position): i for i, b in enumerate(booked)}
    for i, (b, fill_id) in enumerate(zip(booked, ids, strict=True)):
        channel = user_channel(b.row["user_id"])
        outbox.add(channel, fill_event(b.row, fill_id))
        if last[id(b.position)] == i:
            outbox.add(channel, position_event(b.position, b.fill.price, b.fill.ts))


def _ref(order: Order) -> int | str:
    return order.order_id if order.order_id is not None else order.client_order_id


def _domain_position(row: Position) -> DomainPosition:
    return DomainPosition(
        row.symbol,
        Product(row.product),
        quantity=row.quantity,
        cost=row.quantity * row.average_price,
        realised_pnl=row.realised_pnl,
    )


def _describe(item: str | None, fill: DomainFill) -> str:
    if item:
        return item
    return f"{fill.side} {fill.quantity} {fill.symbol} @ {fill.price}"[:200]
