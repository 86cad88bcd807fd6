"""The running order processor: intent streams, tick feed, timers and recovery, wired together.

Any number of engines share the broker accounts: each owns some of the account
partitions (``order_processor.ownership``), consumes their intent streams, keeps
their paper orders in its book, and runs the sweeper, the marks and the square-off
for them alone. An engine that takes a partition over rebuilds its book from the
database, settles what its last owner left in doubt, and claims the entries its last
owner had not acknowledged. In the embedded profile the one engine owns every
partition; in the distributed profile ``main.run`` runs one per process.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from order_processor.accounting import AccountReader
from order_processor.booking import Booker
from order_processor.brokers.base import BrokerAdapter
from order_processor.brokers.paper import PaperBroker
from order_processor.catalog import TradingCatalog, default_catalog
from order_processor.config import DEFAULT_OPTIONS, ProcessorOptions
from order_processor.consumer import IntentConsumer
from order_processor.domain.paper import FillModel, MisSquareOff
from order_processor.domain.positions import Position as DomainPosition
from order_processor.events import Outbox, account_event
from order_processor.ownership import Ownership
from order_processor.prices import LastPrices
from order_processor.processor import OrderProcessor
from order_processor.records import to_domain
from order_processor.repositories.accounts import AccountRepository
from order_processor.repositories.book import PositionRepository
from order_processor.repositories.system import SystemQueries
from shared.bus import EventBus, Subscription
from shared.calendar import NSECalendar, load_calendars
from shared.clock import Clock
from shared.contracts import (
    CHANNEL_CONTROL,
    ControlEvent,
    OrderCommand,
    OrderIntent,
    OrderStatus,
    Product,
    TickMsg,
    order_partition,
    partition_stream,
    tick_channel,
    user_channel,
)
from shared.errors import NotFound
from shared.outbox import Relay
from shared.runtime import Runtime
from shared.tickstore import TickStore

log = logging.getLogger(__name__)
S = OrderStatus
TICK_PATTERN = tick_channel("*")
TICK_QUEUE = 100_000


async def cancel_until_done(tasks: list[asyncio.Task[None]], every_s: float = 0.5) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again whatever is still running.

    On Python 3.11 ``asyncio.wait_for`` can swallow a cancel that lands as the call it
    wraps completes (a redis-py socket write, CPython gh-86296); a loop that swallowed
    one keeps running, so the cancel is repeated until every task has ended.
    """
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every_s)


class OrderEngine:
    """Everything the order processor runs; ``start`` it, ``stop`` it."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        clock: Clock,
        tickstore: TickStore | None = None,
        broker: BrokerAdapter | None = None,
        catalog: TradingCatalog | None = None,
        fill_model: FillModel | None = None,
        options: ProcessorOptions = DEFAULT_OPTIONS,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.clock = clock
        self.options = options
        self.catalog = catalog if catalog is not None else default_catalog()
        self.prices = LastPrices(tickstore)
        self.reader = AccountReader(self.catalog, self.prices)
        self.broker: BrokerAdapter = (
            broker if broker is not None else PaperBroker(self.catalog, clock, fill_model)
        )
        self.relay = Relay(sessions, bus)
        self.ownership = Ownership(
            sessions,
            clock,
            f"{options.consumer}-{uuid.uuid4().hex[:6]}",
            ttl_s=options.lease_ttl_s,
            renew_every_s=options.lease_renew_every_s,
        )
        fence = self.ownership.fence
        self.booker = Booker(
            sessions,
            bus,
            self.catalog,
            self.broker,
            reader=self.reader,
            relay=self.relay,
            fence=fence,
        )
        self.processor = OrderProcessor(
            sessions,
            bus,
            clock,
            self.reader,
            self.broker,
            self.booker,
            options,
            relay=self.relay,
            fence=fence,
        )
        self._consumers: dict[int, tuple[IntentConsumer, asyncio.Task[None]]] = {}
        self._handled_before = 0  # by the consumers of partitions given up
        self.square_off = MisSquareOff(NSECalendar())
        self._tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list[Subscription] = []
        # (account id, symbol) -> the mark its last account event was sent at.
        self._marks_sent: dict[tuple[int, str], Decimal] = {}
        self._marking = asyncio.Lock()
        self._booking_failures_seen = 0

    @classmethod
    def from_runtime(cls, runtime: Runtime, **kwargs: object) -> OrderEngine:
        """An engine on the runtime's database, bus, clock and tick store."""
        return cls(
            sessions=runtime.sessions,
            bus=runtime.bus,
            clock=runtime.clock,
            tickstore=runtime.tickstore,
            **kwargs,  # type: ignore[arg-type]
        )

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Subscribe, take this engine's partitions (rebuilding their state from the
        database and consuming their streams), then start the timers."""
        self.broker.listen(self.booker.apply)
        await asyncio.to_thread(load_calendars, self.clock.now().date())
        ticks = await self.bus.subscribe([], [TICK_PATTERN], maxsize=TICK_QUEUE)
        control = await self.bus.subscribe([CHANNEL_CONTROL])
        self._subscriptions += [ticks, control]
        await self.rebalance()
        opts = self.options
        self._spawn(self.relay.run(), "outbox")
        self._spawn(self._every(opts.lease_renew_every_s, self.rebalance), "partitions")
        self._spawn(self._tick_loop(ticks), "ticks")
        self._spawn(self._control_loop(control), "control")
        self._spawn(self._reload_loop(), "reload")
        self._spawn(self._every(opts.advance_every_s, self._advance), "expiry")
        self._spawn(self._every(opts.sweep_every_s, self.sweep), "sweeper")
        self._spawn(self._every(opts.square_off_every_s, self.run_square_off), "square-off")
        self._spawn(self._every(opts.mark_every_s, self.mark_accounts), "marks")
        log.info("order processor started (consumer %s)", opts.consumer)

    async def stop(self) -> None:
        """Stop the loops and subscriptions and hand the partitions back; work in progress is
        picked up by their next owner."""
        await cancel_until_done(self._tasks + [task for _, task in self._consumers.values()])
        self._tasks.clear()
        self._consumers.clear()
        try:
            await self.ownership.release()
        except Exception as exc:  # the leases run out on their own
            log.warning("could not hand the partitions back: %r", exc)
        for sub in self._subscriptions:
            await sub.close()
        self._subscriptions.clear()
        self.broker.listen(None)
        log.info("order processor stopped")

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        self._tasks.append(asyncio.ensure_future(coro))
        self._tasks[-1].set_name(f"order-processor-{name}")

    async def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:
                log.exception("periodic job %s failed", getattr(job, "__name__", job))

    # -- partitions ------------------------------------------------------------

    @property
    def handled(self) -> int:
        """Stream entries handled by this engine's consumers."""
        return self._handled_before + sum(c.handled for c, _ in self._consumers.values())

    async def rebalance(self) -> None:
        """Renew the leases; give up partitions that went to another engine, serve the ones
        taken (and any held but not served yet: taking one failed last time)."""
        turn = await self.ownership.balance()
        for partition in turn.lost:
            await self._give_up(partition)
        for partition in sorted(self.ownership.owned - self._consumers.keys()):
            try:
                await self._serve(partition)
            except Exception:
                log.exception("taking partition %d over failed; retried", partition)

    async def _serve(self, partition: int) -> None:
        """Take a partition over: its paper orders into the book, what its last owner left
        in doubt settled, then its stream consumed (entries left pending claimed at once)."""
        await self.reload_book([partition])
        await self.recover([partition])
        consumer = IntentConsumer(
            self.bus,
            self.handle_intent,
            self.options,
            stream=partition_stream(partition),
            batch_handler=self.processor.accept_many,
            take_over=True,
        )
        task = asyncio.ensure_future(consumer.run())
        task.set_name(f"order-processor-intents-{partition}")
        self._consumers[partition] = (consumer, task)

    async def _give_up(self, partition: int) -> None:
        """Stop serving a partition: its consumer stops, its orders leave the book."""
        served = self._consumers.pop(partition, None)
        if served is not None:
            consumer, task = served
            await cancel_until_done([task])
            self._handled_before += consumer.handled
        owned = self.ownership.owned
        self.broker.forget(lambda order: order_partition(order.broker_account_id) in owned)

    # -- intents -------------------------------------------------------------

    async def handle_intent(self, message: OrderIntent | OrderCommand) -> None:
        """Accept an intent (idempotently) and take its order as far as it can go now; or
        carry out a command (cancel, change) stored with its order."""
        if isinstance(message, OrderCommand):
            await self.processor.carry_out(message.user_id, message.order_id)
            return
        await self.processor.accept_and_process(message)

    # -- recovery and the sweeper --------------------------------------------

    async def recover(self, partitions: Collection[int] | None = None) -> None:
        """After taking partitions over (all this engine owns by default): settle doubtful
        orders, decide pending ones, carry out stored requests."""
        scope = self.ownership.owned if partitions is None else frozenset(partitions)
        for status in (S.SUBMITTED, S.UNKNOWN):
            for user_id, order_id in await self._orders_in(status, partitions=scope):
                await self.processor.reconcile(user_id, order_id)
        await self.processor.process_many(await self._orders_in(S.PENDING, partitions=scope))
        for status in (S.PENDING_CANCEL, S.PENDING_UPDATE):
            for user_id, order_id in await self._orders_in(status, partitions=scope):
                await self.processor.carry_out(user_id, order_id)

    async def reload_book(self, partitions: Collection[int] | None = None) -> None:
        """Put every stored working order of the partitions (all this engine owns by default)
        that the broker does not hold into its book."""
        scope = self.ownership.owned if partitions is None else frozenset(partitions)
        if not scope:
            return
        async with self.sessions() as session:
            rows = await SystemQueries(session).working_orders(self.broker.name, partitions=scope)
            orders = [to_domain(r) for r in rows]
        await self.broker.load(orders)

    async def sweep(self) -> None:
        """Decide PENDING orders and carry out cancels and changes nobody took up (their
        stream entry was lost); reconcile stuck SUBMITTED and UNKNOWN orders; all of this
        engine's partitions."""
        now = self.clock.now()
        opts = self.options
        left_since = now - timedelta(seconds=opts.pending_after_s)
        left = await self._orders_in(S.PENDING, before=left_since)
        for start in range(0, len(left), opts.read_count):
            await self.processor.process_many(left[start : start + opts.read_count])
        for status in (S.PENDING_CANCEL, S.PENDING_UPDATE):
            for user_id, order_id in await self._orders_in(status, before=left_since):
                await self.processor.carry_out(user_id, order_id)
        for user_id, order_id in await self._orders_in(
            S.SUBMITTED, before=now - timedelta(seconds=opts.stuck_after_s)
        ):
            await self.processor.reconcile(user_id, order_id)
        for user_id, order_id in await self._orders_in(S.UNKNOWN):
            await self.processor.reconcile(user_id, order_id)

    async def _orders_in(
        self,
        status: OrderStatus,
        before: datetime | None = None,
        partitions: Collection[int] | None = None,
    ) -> list[tuple[int, int]]:
        scope = self.ownership.owned if partitions is None else partitions
        if not scope:
            return []
        async with self.sessions() as session:
            return await SystemQueries(session).orders_in(
                status, before=before, limit=self.options.sweep_batch, partitions=scope
            )

    # -- ticks, time and control ---------------------------------------------

    async def _tick_loop(self, ticks: Subscription) -> None:
        async for _, message in ticks:
            if not isinstance(message, TickMsg):
                continue
            try:
                await self.on_tick(message)
            except Exception:
                log.exception("tick %s at %s not handled", message.symbol, message.ts)

    async def on_tick(self, tick: TickMsg) -> None:
        price = self.prices.update(tick.symbol, tick.ts, tick.price)
        await self.broker.on_tick(tick.symbol, tick.ts, price, Decimal(repr(tick.qty)))

    async def _advance(self) -> None:
        await self.broker.advance(self.clock.now())

    async def _control_loop(self, control: Subscription) -> None:
        async for _, message in control:
            if not isinstance(message, ControlEvent):
                continue
            if message.action == "account_closed" and message.broker_account_id is not None:
                self.reader.forget(message.broker_account_id)

    async def _reload_loop(self) -> None:
        """After a booking failed, put the stored working orders back in the broker's book."""
        while True:
            await asyncio.sleep(self.options.resync_every_s)
            if self.booker.failures <= self._booking_failures_seen:
                continue
            self._booking_failures_seen = self.booker.failures
            try:
                await self.reload_book()
            except Exception:
                log.exception("reloading the paper book failed")

    # -- marks -----------------------------------------------------------------

    async def mark_accounts(self) -> None:
        """Send the account event again for accounts whose open positions' marks moved.

        Bookings send it after each fill; this keeps equity, free margin and
        unrealised P&L live between fills, at most once per timer tick per account.
        Passes run one at a time, so two never send the same move twice.
        """
        async with self._marking:
            await self._mark_accounts()

    async def _mark_accounts(self) -> None:
        if not self.ownership.owned:
            return
        async with self.sessions() as session:
            held = await SystemQueries(session).open_position_symbols(
                partitions=self.ownership.owned
            )
        moved: dict[tuple[int, int], None] = {}
        marks_now: dict[tuple[int, str], Decimal] = {}
        for user_id, account_id, symbol in held:
            price = self.prices.get(symbol)
            if price is None:
                continue
            marks_now[(account_id, symbol)] = price
            if self._marks_sent.get((account_id, symbol)) != price:
                moved[(user_id, account_id)] = None
        self._marks_sent = marks_now  # closed positions and accounts drop out
        if not moved:
            return
        outbox = Outbox()
        now = self.clock.now()
        async with self.sessions() as session:
            for user_id, account_id in moved:
                try:
                    account = await AccountRepository(session, user_id).get(account_id)
                except NotFound:
                    continue
                summary = await self.reader.summary(session, account, now)
                outbox.add(user_channel(user_id), account_event(user_id, summary))
        await outbox.publish(self.bus)

    # -- MIS square-off ------------------------------------------------------

    async def run_square_off(self) -> None:
        """From 15:20 IST on NSE trading days, close every open intraday NSE position."""
        now = self.clock.now()
        if not self.square_off.is_due(now):
            return
        if not self.ownership.owned:
            return
        async with self.sessions() as session:
            accounts = await SystemQueries(session).accounts_with_open_mis(
                partitions=self.ownership.owned
            )
            intents: list[OrderIntent] = []
            for user_id, account_id in accounts:
                rows = await PositionRepository(session, user_id).open_for_account(account_id)
                positions = [
                    DomainPosition(r.symbol, Product(r.product), r.quantity)
                    for r in rows
                    if r.symbol in self.catalog
                    and self.catalog.instrument(r.symbol).exchange == "NSE"
                ]
                for order in self.square_off.orders(
                    positions, user_id=user_id, broker_account_id=account_id, ts=now
                ):
                    # A typed exit: sized when decided, so an exit working meanwhile
                    # cannot make the square-off take the position through zero.
                    intents.append(
                        OrderIntent(
                            client_order_id=f"{order.client_order_id}-{account_id}",
                            user_id=user_id,
                            broker_account_id=account_id,
                            symbol=order.symbol,
                            product=order.product,
                            origin="system",
                            algo_tag=order.algo_tag,
                            created_at=now,
                            purpose="close",
                        )
                    )
        for intent in intents:
            try:
                await self.handle_intent(intent)
            except Exception:
                log.exception("square-off of %s failed", intent.client_order_id)
