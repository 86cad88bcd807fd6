"""Taking a PENDING order through the risk chain to the broker, and reconciling doubtful ones.

The decision is taken under the account lock and committed with every risk
decision (DENIED, or SUBMITTED) before a broker elsewhere is called, so a
crash never loses a decision and never sends an order twice: an order found
SUBMITTED or UNKNOWN later is reconciled by client order id with ``status``,
and sent only if the broker has never seen it. A broker whose book lives in
this process (paper) is called inside that transaction instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from order_processor.accounting import AccountReader
from order_processor.booking import Booker
from order_processor.brokers.base import BrokerAdapter, BrokerRejected, BrokerUnavailable
from order_processor.config import DEFAULT_OPTIONS, ProcessorOptions
from order_processor.decisions import (
    Batch,
    Decider,
    assign_ids,
    lock_and_find,
    read_states,
    record_decisions,
)
from order_processor.domain.orders import InvalidOrder, Order, validate_order
from order_processor.domain.paper import (
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    PaperEvent,
)
from order_processor.domain.states import PENDING_CHANGE_STATES
from order_processor.events import Fence, Outbox, no_fence
from order_processor.records import apply_to_row, to_domain
from order_processor.repositories.accounts import AccountRepository
from order_processor.repositories.orders import OrderRepository, insert_orders
from order_processor.service import amended_order, check_change
from shared.bus import EventBus
from shared.clock import Clock
from shared.contracts import OrderIntent, OrderStatus, order_partition
from shared.db import transaction
from shared.errors import DomainError
from shared.models import BrokerAccount
from shared.models import Order as OrderRow
from shared.outbox import Relay

log = logging.getLogger(__name__)
S = OrderStatus


@dataclass(frozen=True)
class _Decided:
    batch: Batch
    to_send: list[Order]


class OrderProcessor:
    """Risk chain and broker submission for one order at a time (many at once across accounts)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus | None,
        clock: Clock,
        reader: AccountReader,
        broker: BrokerAdapter,
        booker: Booker,
        options: ProcessorOptions = DEFAULT_OPTIONS,
        *,
        relay: Relay | None = None,
        fence: Fence | None = None,
    ) -> None:
        self.sessions = sessions
        self.fence = fence if fence is not None else no_fence
        self.bus = bus
        self.relay = relay if relay is not None else Relay(sessions, bus)
        self.clock = clock
        self.reader = reader
        self.broker = broker
        self.booker = booker
        self.options = options
        self._in_flight: set[int] = set()  # orders with a broker call under way here
        self.decider = Decider(reader)

    async def process(self, user_id: int, order_id: int) -> None:
        """Decide a PENDING order and send it if approved; other orders are left alone."""
        await self.process_many([(user_id, order_id)])

    async def process_many(self, pending: Sequence[tuple[int, int]]) -> None:
        """Decide stored PENDING orders ((user_id, order_id)) in one transaction and send the
        approved ones; orders no longer PENDING are left alone."""
        await self._after(await self._decide([], pending))

    async def accept_and_process(self, intent: OrderIntent) -> None:
        """Store an intent's order (idempotently) and decide it in the same transaction.

        A replayed intent whose order is past PENDING changes nothing, unless the
        order is SUBMITTED or UNKNOWN: then it is reconciled with the broker. An intent
        refused for good raises its ``DomainError``.
        """
        refused = await self.accept_many([intent])
        if refused:
            raise refused[0]

    async def accept_many(self, intents: Sequence[OrderIntent]) -> dict[int, DomainError]:
        """Store and decide ``intents`` in one transaction (``order_processor.decisions``),
        then send what a broker elsewhere must get and reconcile doubtful replays.

        Returns the intents refused for good, by index (nothing of them was stored); raises
        when the transaction failed (nothing of the batch was stored).
        """
        decided = await self._decide(intents, [])
        await self._after(decided)
        return decided.batch.refused

    # -- the decision ------------------------------------------------------

    async def _decide(
        self, intents: Sequence[OrderIntent], pending: Sequence[tuple[int, int]]
    ) -> _Decided:
        """Under the accounts' locks: accept, the risk chain, then DENIED or SUBMITTED,
        committed with every verdict.

        A broker whose book lives in this process (paper) is called inside the
        transaction, so its answer (OPEN or REJECTED) is stored with the decision.
        """
        outbox = Outbox()
        batch = Batch()
        placed: list[Order] = []
        to_send: list[Order] = []
        try:
            async with transaction(self.sessions) as session:
                accounts, stored, rows = await lock_and_find(session, intents, pending)
                await self.fence(session, {order_partition(a) for a in accounts})
                now = self.clock.now()
                states = await read_states(session, self.reader, list(accounts.values()), now)
                todo = self.decider.accept(intents, accounts, stored, states, batch)
                new = [r for r in todo if r.id is None]
                todo += [r for r in rows.values() if r.status == S.PENDING]  # the sweeper's
                await assign_ids(session, new)
                verdicts = []
                for row in todo:
                    state = states.get(row.broker_account_id)
                    if state is None or row.status != S.PENDING:
                        continue
                    now = self.clock.now()
                    decided, decisions = await self.decider.evaluate(row, state, now)
                    apply_to_row(decided, row)
                    if decided.status is S.SUBMITTED:
                        if self.broker.in_process:
                            placed.append(decided)
                            await self._place_in_transaction(decided, row, outbox)
                        else:
                            to_send.append(decided)
                    state.decided(row)
                    verdicts.append((row, decisions, now))
                    outbox.order(row, now)
                    batch.rows.append(row)
                if new:  # inserted once, as decided
                    await insert_orders(session, new)
                await record_decisions(session, verdicts)
                await outbox.stage(session, now)
        except BaseException:
            for order in placed:  # the decisions did not commit: take the orders back
                await self._withdraw(order)
            raise
        await self.relay.send(outbox)
        return _Decided(batch, to_send)

    async def _after(self, decided: _Decided) -> None:
        """After commit: send the approved orders to a broker elsewhere, reconcile replays
        of orders whose sending is in doubt."""
        if decided.to_send:
            await asyncio.gather(*(self._send(order) for order in decided.to_send))
        for user_id, order_id in decided.batch.doubtful:
            await self.reconcile(user_id, order_id)

    async def _place_in_transaction(self, order: Order, row: OrderRow, outbox: Outbox) -> None:
        try:
            events = await self.broker.place(order)
        except BrokerRejected as exc:
            now = self.clock.now()
            rejected = order.with_status(S.REJECTED, now, reason_code=exc.code, reason=exc.message)
            events = [OrderRejected(rejected, now, exc.code, exc.message)]
        except Exception as exc:
            log.warning("broker call for %s failed: %r", order.client_order_id, exc)
            unknown = order.with_status(
                S.UNKNOWN, self.clock.now(), reason_code="broker_timeout", reason=repr(exc)[:500]
            )
            apply_to_row(unknown, row)
            return
        # The row holds ``order`` until the first event moves it; the caller announces the
        # row once, after all of them.
        stored: Order | None = order
        for event in events:
            self.booker.book_status(row, event, None, stored)
            stored = None

    async def _withdraw(self, order: Order) -> None:
        try:
            await self.broker.cancel(order.key)
        except Exception:
            log.exception("could not withdraw %s from the broker", order.client_order_id)

    # -- the broker call ---------------------------------------------------

    async def _send(self, order: Order) -> None:
        assert order.order_id is not None
        self._in_flight.add(order.order_id)
        try:
            try:
                async with asyncio.timeout(self.options.broker_timeout_s):
                    events = await self.broker.place(order)
            except BrokerUnavailable as exc:
                # Certainly not sent: the order stays SUBMITTED and is sent again when reconciled.
                log.warning("broker unavailable for %s: %s", order.client_order_id, exc)
                return
            except BrokerRejected as exc:
                rejected = order.with_status(
                    S.REJECTED, self.clock.now(), reason_code=exc.code, reason=exc.message
                )
                events = [OrderRejected(rejected, self.clock.now(), exc.code, exc.message)]
            except Exception as exc:  # a timeout above all: sent, outcome unknown
                log.warning("broker call for %s failed: %r", order.client_order_id, exc)
                await self._mark_unknown(order, repr(exc))
                return
            if events:
                await self.booker.apply(events)
                return
        finally:
            self._in_flight.discard(order.order_id)
        # The broker held the order already (a resend after a restart): ask it.
        await self.reconcile(order.user_id, order.order_id)

    async def _mark_unknown(self, order: Order, why: str) -> None:
        outbox = Outbox()
        async with transaction(self.sessions) as session:
            await AccountRepository(session, order.user_id).lock(order.broker_account_id)
            await self.fence(session, {order_partition(order.broker_account_id)})
            assert order.order_id is not None
            row = await OrderRepository(session, order.user_id).get(order.order_id, for_update=True)
            if row.status != S.SUBMITTED:
                return
            now = self.clock.now()
            unknown = to_domain(row).with_status(
                S.UNKNOWN, now, reason_code="broker_timeout", reason=why[:500]
            )
            apply_to_row(unknown, row)
            outbox.order(row, now)
            await outbox.stage(session, now)
        await self.relay.send(outbox)

    # -- cancels and changes ---------------------------------------------------

    async def carry_out(self, user_id: int, order_id: int) -> None:
        """Carry out the cancel or change stored with an order (PENDING_CANCEL, PENDING_UPDATE).

        Under the account lock, like every decision: a cancel is sent to the broker and
        its answer booked; a change is checked by the risk chain, then applied at the
        broker, or refused (the order rests as it was, ``reason_code`` ``change_denied``
        or ``change_refused``). An order that has moved on (filled, cancelled, the request
        carried out already) is left alone, so a command delivered twice does nothing.
        """
        if order_id in self._in_flight:
            return  # being sent: the sweeper comes back to it
        outbox = Outbox()
        async with transaction(self.sessions) as session:
            found = await session.execute(
                select(OrderRow.broker_account_id, OrderRow.status).where(
                    OrderRow.id == order_id, OrderRow.user_id == user_id
                )
            )
            head = found.first()
            if head is None or S(head.status) not in PENDING_CHANGE_STATES:
                return
            account = await AccountRepository(session, user_id).lock(head.broker_account_id)
            await self.fence(session, {order_partition(account.id)})
            row = await OrderRepository(session, user_id).get(order_id, for_update=True)
            if row.status == S.PENDING_CANCEL:
                await self._cancel_here(row, outbox)
            elif row.status == S.PENDING_UPDATE:
                await self._change_here(session, account, row, outbox)
            await outbox.stage(session, self.clock.now())
        await self.relay.send(outbox)

    async def _cancel_here(self, row: OrderRow, outbox: Outbox) -> None:
        stored = to_domain(row)
        now = self.clock.now()
        try:
            async with asyncio.timeout(self.options.broker_timeout_s):
                events = await self.broker.cancel(stored.key)
        except BrokerRejected:
            # The broker holds no working order under this key: ask what it knows.
            at_broker = await self.broker.status(stored.key)
            if at_broker is None:  # never reached it: nothing to take back
                events = [OrderCancelled(stored, now)]
            elif at_broker.is_working:
                events = []
            else:
                event = _event_for(at_broker, now)
                events = [event] if event is not None else []
        except Exception as exc:
            log.warning("cancel of %s not sent: %r; retried", stored.client_order_id, exc)
            return
        for event in events:
            self.booker.book_status(row, event, outbox)

    async def _change_here(
        self, session: AsyncSession, account: BrokerAccount, row: OrderRow, outbox: Outbox
    ) -> None:
        stored = to_domain(row)
        now = self.clock.now()
        asked = (row.amend_quantity, row.amend_limit_price, row.amend_trigger_price)
        row.amend_quantity = row.amend_limit_price = row.amend_trigger_price = None
        code, why = "change_refused", ""
        try:
            amended = amended_order(stored, *asked, now)
        except InvalidOrder as exc:  # fills came meanwhile
            why = exc.errors[0].message
        else:
            errors = validate_order(amended, self.reader.catalog.instrument(stored.symbol))
            if errors:
                why = errors[0].message
            else:
                denial = await check_change(session, self.reader, account, amended, now)
                if denial is not None:
                    code, why = "change_denied", denial
                else:
                    try:
                        async with asyncio.timeout(self.options.broker_timeout_s):
                            await self.broker.modify(amended)
                    except BrokerRejected as exc:
                        why = exc.message
                    except Exception as exc:
                        why = f"the broker did not take the change: {exc!r}"[:500]
                    else:
                        apply_to_row(replace(amended, reason_code=None, reason=None), row)
                        outbox.order(row, now)
                        return
        refused = stored.with_status(stored.resting_status, now, reason_code=code, reason=why)
        apply_to_row(refused, row)
        outbox.order(row, now)

    # -- reconciliation ----------------------------------------------------

    async def reconcile(self, user_id: int, order_id: int) -> None:
        """Settle a SUBMITTED or UNKNOWN order with what the broker knows of it."""
        if order_id in self._in_flight:
            return
        async with self.sessions() as session:
            row = await OrderRepository(session, user_id).get(order_id)
            order = to_domain(row)
        if order.status not in (S.SUBMITTED, S.UNKNOWN):
            return
        try:
            async with asyncio.timeout(self.options.broker_timeout_s):
                at_broker = await self.broker.status(order.key)
        except Exception as exc:
            log.warning("status of %s unavailable: %r", order.client_order_id, exc)
            return
        if at_broker is None:
            if order.status is S.SUBMITTED:
                await self._send(order)  # never reached the broker: sending is not a resend
                return
            now = self.clock.now()
            message = "the broker has no record of this order"
            lost = order.with_status(S.REJECTED, now, reason_code="not_at_broker", reason=message)
            await self.booker.apply([OrderRejected(lost, now, "not_at_broker", message)])
            return
        event = _event_for(at_broker, self.clock.now())
        if event is not None:
            await self.booker.apply([event])


def _event_for(order: Order, now: datetime) -> PaperEvent | None:
    """The event that moves a stored order to the broker's status (fills arrive on their own)."""
    if order.status in (S.OPEN, S.PARTIALLY_FILLED):
        return OrderAccepted(order, now)
    if order.status is S.REJECTED:
        code = order.reason_code or "rejected"
        return OrderRejected(order, now, code, order.reason or "")
    if order.status is S.CANCELLED:
        return OrderCancelled(order, now)
    if order.status is S.EXPIRED:
        return OrderExpired(order, now, order.reason_code or "expired")
    return None
