"""The alerts consumer: events on the bus -> alerts in the history, pushed and queued for delivery.

It reads the private user channels (order states, account marks, subscription errors),
the control channel (kill switch), market status (a session close: the daily summary)
and feed status. Events reach it at least once (the transactional outbox publishes
again what it could not confirm); each alert is keyed by its event (``source_key``,
unique per user), so a second delivery makes no second alert. Messages queued while it
works are drained and written in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics_service.alerts import rules
from analytics_service.alerts.rules import AccountDay, AlertDraft
from analytics_service.alerts.store import Recorded, push, record
from shared.alerts import CHANNEL_FEED_STATUS, FeedStatusMsg, SubscriptionErrorMsg
from shared.bus import EventBus, Subscription
from shared.clock import Clock
from shared.contracts import (
    CHANNEL_CONTROL,
    CHANNEL_MARKET_STATUS,
    AccountEvent,
    ControlEvent,
    Event,
    MarketStatusMsg,
    Message,
    OrderEvent,
    OrderStatus,
)
from shared.db import transaction
from shared.models import Alert, BrokerAccount, Fill, TradingHalt, User
from shared.models import Order as OrderRow

log = logging.getLogger(__name__)

EVENT_IDS_KEPT = 50_000
DRAIN = 500  # messages written in one transaction at most
CATCH_UP_WINDOW = timedelta(hours=24)
"""How far back a start looks for order states that made no alert (at most)."""
CATCH_UP_MARGIN = timedelta(minutes=5)
"""How far before the newest stored alert the look starts (events in flight then)."""
CATCH_UP_LIMIT = 10_000
CATCH_UP_STATES = (
    OrderStatus.FILLED,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.DENIED,
    OrderStatus.REJECTED,
)

OnRecorded = Callable[[list[Recorded]], Awaitable[None]]


class AlertConsumer:
    """Turns bus events into alerts; ``start``/``stop`` run it on a bus subscription."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        clock: Clock,
        *,
        on_recorded: OnRecorded | None = None,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.clock = clock
        self.on_recorded = on_recorded
        self.recorded = 0
        self.duplicates = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._marks: dict[int, AccountEvent] = {}  # broker account -> latest account event
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._subscription = await self.bus.subscribe(
            [CHANNEL_CONTROL, CHANNEL_MARKET_STATUS, CHANNEL_FEED_STATUS],
            ["user:*"],
            maxsize=100_000,
        )
        self._task = asyncio.create_task(self._pump(), name="alerts-consumer")
        try:
            await self.catch_up()
        except Exception:
            log.exception("catching up on order alerts failed; live events go on")

    async def catch_up(self) -> list[Recorded]:
        """Alerts of the order states reached while nothing was listening.

        The bus does not keep what it publishes: events of orders that filled, were
        denied or rejected while this consumer was down reach nobody. On start (after
        subscribing, so nothing falls between) the orders that changed since shortly
        before the newest stored alert (at most ``CATCH_UP_WINDOW`` back) are read and
        turned into alerts as their events would have been; an order whose alert exists
        already makes none (``source_key``). What the bus alone carries (feed status,
        subscription errors) and kill-switch events are not caught up; a partly filled
        order gets one alert for its current quantity, not one per fill missed.
        """
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            newest = await session.scalar(select(func.max(Alert.created_at)))
            since = now - CATCH_UP_WINDOW
            if newest is not None:
                since = max(since, newest - CATCH_UP_MARGIN)
            rows = (
                await session.scalars(
                    select(OrderRow)
                    .where(
                        OrderRow.updated_at >= since,
                        OrderRow.status.in_([str(s) for s in CATCH_UP_STATES]),
                    )
                    .order_by(OrderRow.id)
                    .limit(CATCH_UP_LIMIT)
                )
            ).all()
            drafts = [d for d in (rules.from_order(_event_of(r)) for r in rows) if d is not None]
            recorded = await record(session, drafts, now)
        if recorded:
            log.info("%d order alerts made on start for events missed", len(recorded))
        self.recorded += len(recorded)
        await self._announce(recorded)
        return recorded

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _pump(self) -> None:
        sub = self._subscription
        assert sub is not None
        async for first in sub:
            batch = [first]
            while len(batch) < DRAIN and sub.qsize():
                got = await sub.get(0)
                if got is None:
                    break
                batch.append(got)
            try:
                await self.handle(batch)
            except Exception:
                log.exception("alerts from %d events were not recorded", len(batch))

    async def handle(self, batch: Sequence[tuple[str, Message]]) -> list[Recorded]:
        """Record the alerts of these (channel, message) pairs; returns the new ones."""
        wanted = [m for _, m in batch if self._wanted(m)]
        if not wanted:
            return []
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            drafts: list[AlertDraft] = []
            for message in wanted:
                drafts.extend(await self._drafts(session, message))
            recorded = await record(session, drafts, now)
        self.recorded += len(recorded)
        self.duplicates += len(drafts) - len(recorded)
        await self._announce(recorded)
        return recorded

    async def _announce(self, recorded: list[Recorded]) -> None:
        """Push new alerts on their users' channels and hand them to ``on_recorded``."""
        if not recorded:
            return
        await push(self.bus, recorded)
        if self.on_recorded is not None:
            await self.on_recorded(recorded)

    def _wanted(self, message: Message) -> bool:
        if isinstance(message, AccountEvent):
            held = self._marks.get(message.broker_account_id)
            if held is None or held.ts <= message.ts:
                self._marks[message.broker_account_id] = message
            return False
        if not isinstance(message, OrderEvent | ControlEvent | SubscriptionErrorMsg):
            return isinstance(message, FeedStatusMsg) or (
                isinstance(message, MarketStatusMsg)
                and not message.is_open
                and message.reason == "after_close"
            )
        if isinstance(message, Event) and message.event_id is not None:
            if message.event_id in self._seen:
                self.duplicates += 1
                return False
            self._seen[message.event_id] = None
            if len(self._seen) > EVENT_IDS_KEPT:
                self._seen.popitem(last=False)
        return True

    async def _drafts(self, session: AsyncSession, message: Message) -> list[AlertDraft]:
        if isinstance(message, OrderEvent):
            draft = rules.from_order(message)
            return [draft] if draft is not None else []
        if isinstance(message, ControlEvent):
            return await self._control(session, message)
        if isinstance(message, SubscriptionErrorMsg):
            return [rules.from_subscription_error(message)]
        if isinstance(message, FeedStatusMsg):
            return rules.from_feed(message, await _traders(session))
        if isinstance(message, MarketStatusMsg):
            return await self._daily(session, message)
        return []

    async def _control(self, session: AsyncSession, event: ControlEvent) -> list[AlertDraft]:
        if event.action not in ("halt", "resume", "liquidate"):
            return []
        if event.user_id is None:
            return rules.from_control(event, await _traders(session))
        by = await _actor(session, event)
        return rules.from_control(event, [event.user_id], by=by)

    async def _daily(self, session: AsyncSession, status: MarketStatusMsg) -> list[AlertDraft]:
        if status.session_open is None or status.session_close is None:
            return []
        start, end = status.session_open, status.session_close
        trades: dict[int, int] = {}
        charges: dict[int, Decimal] = {}
        rows = await session.execute(
            select(Fill.broker_account_id, Fill.charges).where(Fill.ts >= start, Fill.ts <= end)
        )
        for account_id, charge in rows.all():
            trades[account_id] = trades.get(account_id, 0) + 1
            charges[account_id] = charges.get(account_id, Decimal(0)) + charge
        marked = {a: e for a, e in self._marks.items() if e.ts >= start}
        ids = set(trades) | set(marked)
        if not ids:
            return []
        accounts = (
            await session.scalars(select(BrokerAccount).where(BrokerAccount.id.in_(ids)))
        ).all()
        by_user: dict[int, list[AccountDay]] = {}
        for account in sorted(accounts, key=lambda a: a.id):
            mark = marked.get(account.id)
            by_user.setdefault(account.user_id, []).append(
                AccountDay(
                    account.id,
                    account.label,
                    account.currency,
                    trades.get(account.id, 0),
                    charges.get(account.id, Decimal(0)),
                    None if mark is None else mark.day_pnl,
                )
            )
        day = status.trading_day.isoformat()
        drafts = [rules.daily_summary(u, status.exchange, day, a) for u, a in by_user.items()]
        return [d for d in drafts if d is not None]


def _event_of(row: OrderRow) -> OrderEvent:
    """The order event a stored order's state would have published."""
    return OrderEvent(
        user_id=row.user_id,
        order_id=row.id,
        version=row.version,
        broker_account_id=row.broker_account_id,
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        side=row.side,
        order_type=row.order_type,
        product=row.product,
        validity=row.validity,
        status=row.status,
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
        ts=row.updated_at,
    )


async def _traders(session: AsyncSession) -> list[int]:
    """Active users with a broker account: who a platform-wide alert concerns."""
    stmt = (
        select(User.id)
        .where(User.is_active.is_(True))
        .where(select(BrokerAccount.id).where(BrokerAccount.user_id == User.id).exists())
        .order_by(User.id)
    )
    return list((await session.scalars(stmt)).all())


async def _actor(session: AsyncSession, event: ControlEvent) -> str | None:
    """Who halted or resumed ``event.user_id``: the user themself or an administrator."""
    if event.action == "liquidate":
        return None
    if event.action == "halt":
        stmt = select(TradingHalt.created_by).where(TradingHalt.user_id == event.user_id)
        stmt = stmt.order_by(TradingHalt.created_at.desc(), TradingHalt.id.desc())
    else:
        stmt = select(TradingHalt.cleared_by).where(
            TradingHalt.user_id == event.user_id, TradingHalt.cleared_at.is_not(None)
        )
        stmt = stmt.order_by(TradingHalt.cleared_at.desc(), TradingHalt.id.desc())
    row = (await session.execute(stmt.limit(1))).first()
    if row is None or row[0] is None:
        return None if row is None else "the platform"
    return "you" if row[0] == event.user_id else "an administrator"
