"""The transactional outbox: events written with the change that caused them, relayed after commit.

Every writer collects the events of a transaction in an ``Outbox``, ``stage``s
them as one ``outbox`` row in that same transaction right before committing,
and hands the outbox to the process's ``Relay`` once the commit has succeeded:

    outbox = Outbox()
    async with transaction(sessions) as session:
        ...                                   # the change, and outbox.add(...)
        await outbox.stage(session, now)
    await relay.send(outbox)                  # publish, then delete the row

So an event is on the bus only if its change committed, and a change that
committed has its events stored: if the writer stops between the commit and the
publish, the row stays, and a relay (in this process or another) publishes it
once it has been left ``left_after_s``. Delivery is therefore at least once:
each event carries an ``event_id`` (given when staged), and a consumer that must
not act twice drops an id it has seen; order events also carry the order's
version.

A relay deletes published rows in batches (one statement per loop turn), so the
outbox costs a writer one more row per transaction, not one per event.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import orjson
from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.batch_sql import fetch_rows
from shared.bus import EventBus
from shared.bus.codec import decode, encode
from shared.contracts import Event, FillEvent, Message, OrderEvent, OrderStatus
from shared.db import transaction
from shared.models import OutboxBatch

log = logging.getLogger(__name__)

_PROCESS = uuid.uuid4().hex[:12]
_SEQUENCE = itertools.count(1)


_OUTBOX = cast(Table, OutboxBatch.__table__)
_STAGE = (
    insert(_OUTBOX)
    .values(created_at=bindparam("created_at"), messages=bindparam("messages"))
    .returning(_OUTBOX.c.id)
)
"""One outbox row, its id back (a plain statement: staging is the last step of every
writing transaction, and the unit of work's flush cost more than the insert)."""


def new_event_id() -> str:
    """An id no other event has: this process's random prefix and a counter."""
    return f"{_PROCESS}-{next(_SEQUENCE)}"


def pack(messages: Sequence[tuple[str, Message]]) -> bytes:
    return orjson.dumps([[channel, encode(m).decode()] for channel, m in messages])


def unpack(data: bytes) -> list[tuple[str, Message]]:
    return [(channel, decode(raw)) for channel, raw in orjson.loads(data)]


@dataclass
class Outbox:
    """The events of one transaction: collected, staged with it, published after it."""

    messages: list[tuple[str, Message]] = field(default_factory=list)
    batch_id: int | None = None
    """The ``outbox`` row the events were staged as (None: not staged)."""

    def add(self, channel: str, message: Message) -> None:
        self.messages.append((channel, message))

    async def stage(self, session: AsyncSession, now: datetime) -> None:
        """Write the events into ``session``'s transaction (the last step before commit).

        Each event gets its ``event_id`` here. Staging twice is a programming error.
        """
        if self.batch_id is not None:
            raise RuntimeError("this outbox is staged already")
        if not self.messages:
            return
        self.messages = [(channel, _with_id(m)) for channel, m in self.messages]
        params = {"created_at": now, "messages": pack(self.messages)}
        (row,) = await fetch_rows(session, "outbox.stage", _STAGE, params)
        self.batch_id = row["id"]

    async def publish(self, bus: EventBus | None) -> None:
        """Publish events that are not stored changes (marks of prices); a failure is logged.

        Staged events go through ``Relay.send``, which also retires their row.
        """
        messages, self.messages = self.messages, []
        await _publish(bus, messages)


def _with_id(message: Message) -> Message:
    if isinstance(message, Event) and message.event_id is None:
        return message.model_copy(update={"event_id": new_event_id()})
    return message


async def _publish(bus: EventBus | None, messages: Iterable[tuple[str, Message]]) -> bool:
    """Publish in order, all in one bus call (one round trip to Redis, not one per event:
    a batch of decisions is hundreds of events); False if the bus raised."""
    if bus is None:
        return True
    items = list(messages)
    if not items:
        return True
    try:
        await bus.publish_many(items)
    except Exception:
        log.exception("publishing %d events after commit failed", len(items))
        return False
    return True


def _count(messages: Iterable[tuple[str, Message]]) -> None:
    """Metrics of committed changes: orders by the state reached, denials by check, fills;
    counted first, then one increment per label (a label look-up takes the metric's lock)."""
    reached: Counter[OrderStatus] = Counter()
    denied: Counter[str] = Counter()
    filled: Counter[str] = Counter()
    for _, message in messages:
        if isinstance(message, OrderEvent):
            reached[message.status] += 1
            if message.status is OrderStatus.DENIED:
                denied[message.reason_code or "unknown"] += 1
        elif isinstance(message, FillEvent):
            filled[message.side.value] += 1
    for status, n in reached.items():
        metrics.ORDER_TRANSITIONS.labels(status.value).inc(n)
    for code, n in denied.items():
        metrics.RISK_DENIALS.labels(code).inc(n)
    for side, n in filled.items():
        metrics.FILLS.labels(side).inc(n)


class Relay:
    """Publishes committed outboxes, retires their rows, and relays rows left behind.

    ``send`` is the writer's fast path, right after its commit. ``run`` (one task
    per process) deletes sent rows in batches and publishes rows still there
    ``left_after_s`` after it first saw them: a writer stopped between commit and
    publish, or a publish that failed. Without a running loop ``send`` deletes the
    row itself.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus | None,
        *,
        every_s: float = 0.25,
        left_after_s: float = 5.0,
        batch: int = 200,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.every_s = every_s
        self.left_after_s = left_after_s
        self.batch = batch
        self.relayed = 0
        """Rows published by the loop (left behind by a writer)."""
        self._sent: list[int] = []
        self._seen: dict[int, float] = {}  # row id -> when the loop first saw it
        self._running = False

    async def send(self, outbox: Outbox) -> None:
        """Publish a committed outbox; its row is deleted once published (a failed publish
        leaves the row to the loop)."""
        messages, outbox.messages = outbox.messages, []
        batch_id, outbox.batch_id = outbox.batch_id, None
        _count(messages)
        ok = await _publish(self.bus, messages)
        if batch_id is None or not ok:
            return
        if self._running:
            self._sent.append(batch_id)
            return
        try:
            await self._delete([batch_id])
        except Exception:
            log.warning("outbox row %s not deleted; the relay publishes it again", batch_id)

    async def run(self) -> None:
        """Until cancelled: retire sent rows, relay rows left behind."""
        self._running = True
        try:
            while True:
                await asyncio.sleep(self.every_s)
                try:
                    await self.turn()
                except Exception:
                    log.exception("outbox relay turn failed")
        finally:
            self._running = False
            if self._sent:
                ids, self._sent = self._sent, []
                try:
                    await self._delete(ids)
                except Exception:
                    log.warning("%d sent outbox rows left to the relay", len(ids))

    async def turn(self) -> None:
        """One pass: delete what was sent, then publish and delete rows left long enough."""
        if self._sent:
            ids, self._sent = self._sent, []
            try:
                await self._delete(ids)
            except Exception:
                self._sent[:0] = ids
                raise
        await self._relay_left()

    async def _delete(self, ids: list[int]) -> None:
        async with transaction(self.sessions) as session:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                await session.execute(delete(OutboxBatch).where(OutboxBatch.id.in_(chunk)))

    async def _relay_left(self) -> None:
        clock = time.monotonic()
        async with self.sessions() as session:
            rows = await session.execute(
                select(OutboxBatch.id).order_by(OutboxBatch.id).limit(self.batch)
            )
            present = [row_id for (row_id,) in rows.all()]
        pending = set(self._sent)
        self._seen = {i: self._seen.get(i, clock) for i in present if i not in pending}
        due = [i for i, first in self._seen.items() if clock - first >= self.left_after_s]
        if not due:
            return
        async with transaction(self.sessions) as session:
            stmt = select(OutboxBatch).where(OutboxBatch.id.in_(due)).order_by(OutboxBatch.id)
            # Relays of several processes share the table: each row goes to one of them.
            left = (await session.scalars(stmt.with_for_update(skip_locked=True))).all()
            for row in left:
                await _publish(self.bus, unpack(row.messages))
                await session.delete(row)
                self._seen.pop(row.id, None)
            self.relayed += len(left)
        if left:
            log.warning("relayed %d outbox batches left behind by a writer", len(left))
