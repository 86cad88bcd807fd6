"""Fan-out from the event bus to the connected clients of this process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, defaultdict

import orjson

from shared.bus import EventBus, Subscription, encode
from shared.contracts import CHANNEL_CONTROL, ControlEvent, Event, Message, OrderEvent
from websocket_service.channels import (
    ADMIN_ONLY,
    ADMIN_TRADING,
    KIND_TO_PRIVATE,
    TRADING,
    TRADING_ACTIONS,
    public_name,
)
from websocket_service.connection import CLOSE_SESSION_ENDED, Connection
from websocket_service.transport import Frame

log = logging.getLogger(__name__)

YIELD_EVERY = 256  # bus messages dispatched between two turns of the event loop at most
ORDER_VERSIONS_KEPT = 100_000  # orders whose newest version is remembered (oldest forgotten)


class OrderVersions:
    """The newest version seen of each order: an event not newer than it is dropped.

    Events of one order can reach this process out of order (a writer's PENDING
    published late) or twice (at-least-once delivery); clients only ever get
    each order's states forward.
    """

    def __init__(self, capacity: int = ORDER_VERSIONS_KEPT) -> None:
        self.capacity = capacity
        self.dropped = 0
        self._seen: OrderedDict[int, int] = OrderedDict()

    def is_newer(self, event: OrderEvent) -> bool:
        held = self._seen.get(event.order_id)
        if held is not None and event.version <= held:
            self.dropped += 1
            return False
        self._seen[event.order_id] = event.version
        self._seen.move_to_end(event.order_id)
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True


EVENT_IDS_KEPT = 100_000  # event ids remembered to drop a second delivery (oldest forgotten)


class EventIds:
    """Event ids seen lately: an event delivered again (the outbox is at least once) is dropped."""

    def __init__(self, capacity: int = EVENT_IDS_KEPT) -> None:
        self.capacity = capacity
        self.dropped = 0
        self._seen: OrderedDict[str, None] = OrderedDict()

    def is_new(self, event: Event) -> bool:
        if event.event_id is None:
            return True
        if event.event_id in self._seen:
            self.dropped += 1
            return False
        self._seen[event.event_id] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True


class Hub:
    """One bus subscription per process; each message is encoded once for all its receivers."""

    def __init__(
        self,
        bus: EventBus,
        *,
        max_queue: int = 1000,
        send_timeout: float = 5.0,
        max_buffer_bytes: int = 1 << 20,
    ):
        self.bus = bus
        self.max_queue = max_queue
        self.send_timeout = send_timeout
        self.max_buffer_bytes = max_buffer_bytes  # per connection with a sink: connection.py
        self._by_channel: dict[str, set[Connection]] = defaultdict(set)
        self._by_user: dict[int, set[Connection]] = defaultdict(set)
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self.order_versions = OrderVersions()
        self.event_ids = EventIds()

    async def start(self) -> None:
        self._subscription = await self.bus.subscribe(
            [CHANNEL_CONTROL], ["md:*", "user:*", "alerts:*"], maxsize=100_000
        )
        self._task = asyncio.create_task(self._pump(), name="ws-hub")

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for conns in list(self._by_user.values()):
            for conn in list(conns):
                await conn.stop()

    def connections(self) -> int:
        return sum(len(c) for c in self._by_user.values())

    def connections_of(self, user_id: int) -> int:
        """Open connections of one user in this process."""
        conns = self._by_user.get(user_id)
        return len(conns) if conns else 0

    def add(self, conn: Connection) -> None:
        self._by_user[conn.user_id].add(conn)

    def remove(self, conn: Connection) -> None:
        self._by_user[conn.user_id].discard(conn)
        if not self._by_user[conn.user_id]:
            del self._by_user[conn.user_id]
        for name in conn.channels:
            self._by_channel[name].discard(conn)
            if not self._by_channel[name]:
                del self._by_channel[name]
        conn.channels.clear()

    def subscribe(self, conn: Connection, name: str) -> None:
        conn.channels.add(name)
        self._by_channel[name].add(conn)

    def unsubscribe(self, conn: Connection, name: str) -> None:
        conn.channels.discard(name)
        self._by_channel[name].discard(conn)

    def revoke_admin(self, conn: Connection) -> list[str]:
        """The connection is no longer an administrator's: its admin channels end at once.
        Returns the channels it lost."""
        conn.is_admin = False
        lost = sorted(conn.channels & ADMIN_ONLY)
        for name in lost:
            self.unsubscribe(conn, name)
        return lost

    async def _pump(self) -> None:
        assert self._subscription is not None
        subscription = self._subscription
        async for channel, message in subscription:
            try:
                self.dispatch(channel, message)
            except Exception:
                log.exception("dispatching %s failed", channel)
            if subscription.delivered % YIELD_EVERY == 0 and subscription.qsize():
                # A backlog is handed out in slices: each slice's frames leave (one write
                # per connection) before the next, and sign-ins and reads are not starved.
                await asyncio.sleep(0)

    def dispatch(self, channel: str, message: Message) -> None:
        if channel == CHANNEL_CONTROL:
            if isinstance(message, ControlEvent):
                self._control(message)
            return
        name = public_name(channel)
        if name is not None:
            receivers = self._by_channel.get(name)
            if receivers:
                frame = Frame(_frame(name, message))
                for conn in receivers:
                    conn.offer_frame(frame)
            return
        if channel.startswith(("user:", "alerts:")):  # alerts:{id}: shared.alerts.alerts_channel
            user_id = int(channel.partition(":")[2])
            private = KIND_TO_PRIVATE.get(getattr(message, "kind", ""))
            if private is None:
                return
            if isinstance(message, Event) and not self.event_ids.is_new(message):
                return
            if isinstance(message, OrderEvent) and not self.order_versions.is_newer(message):
                return
            private_frame: str | None = None
            for conn in self._by_user.get(user_id, ()):
                if private in conn.channels:
                    private_frame = private_frame or _frame(private, message)
                    conn.offer(private_frame, private=True)

    def _control(self, event: ControlEvent) -> None:
        if event.action in TRADING_ACTIONS:
            self._trading(event)
            return
        if event.action == "role_changed" and event.user_id is not None:
            # Fail closed: admin channels end now; a re-authentication reads the new role.
            for conn in list(self._by_user.get(event.user_id, ())):
                lost = self.revoke_admin(conn)
                if lost:
                    conn.offer(admin_lost_frame(lost), private=True)
            return
        if event.action != "session_revoked" or event.user_id is None:
            return
        for conn in list(self._by_user.get(event.user_id, ())):
            if event.session_id is None or event.session_id == conn.session_id:
                conn.close_soon(CLOSE_SESSION_ENDED, f"session ended: {event.reason}")

    def _trading(self, event: ControlEvent) -> None:
        """A halt, resume or liquidation to the connections it concerns: the user's, or
        everyone's for a global one (``user_id`` None); every one of them to the
        administrators on ``admin:trading``."""
        receivers = self._by_channel.get(TRADING)
        if receivers:
            frame = _frame(TRADING, event)
            for conn in list(receivers):
                if event.user_id is None or conn.user_id == event.user_id:
                    conn.offer(frame, private=True)
        admins = self._by_channel.get(ADMIN_TRADING)
        if admins:
            admin_frame = _frame(ADMIN_TRADING, event)
            for conn in list(admins):
                if conn.is_admin:  # checked again here: a demoted admin never gets one
                    conn.offer(admin_frame, private=True)


def admin_lost_frame(channels: list[str]) -> str:
    """The error frame telling a client its admin channels ended (its role changed)."""
    message = f"{', '.join(channels)}: admin role required; unsubscribed"
    return orjson.dumps({"op": "error", "message": message, "channels": channels}).decode()


def _frame(channel: str, message: Message) -> str:
    return (
        '{"channel":' + orjson.dumps(channel).decode() + ',"data":' + encode(message).decode() + "}"
    )
