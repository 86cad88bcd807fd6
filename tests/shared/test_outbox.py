"""The transactional outbox: events only of committed changes, never lost between commit and
publish, de-duplicated downstream by event id; on SQLite, PostgreSQL and PgBouncer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shared.bus import InProcessEventBus
from shared.contracts import CHANNEL_CONTROL, ControlEvent, FillEvent, Side, user_channel
from shared.db import create_engine, create_sessionmaker, transaction
from shared.models import OutboxBatch
from shared.outbox import Outbox, Relay
from tests.api_gateway.conftest import settings_for
from websocket_service.hub import EventIds

T0 = datetime(2026, 12, 4, 9, 15, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", "postgres", "pgbouncer"])
async def sessions(request, tmp_path_factory):
    from algotrade.migrate import upgrade

    settings = settings_for(request.param, request, tmp_path_factory.mktemp("outbox"))
    await asyncio.to_thread(upgrade, settings.migration_url)
    engine = create_engine(settings)
    yield create_sessionmaker(engine)
    await engine.dispose()


def _fill(n: int) -> FillEvent:
    return FillEvent(
        user_id=1,
        order_id=n,
        fill_id=n,
        symbol="SOLUSDT",
        side=Side.BUY,
        quantity=Decimal(1),
        price=Decimal("150.5"),
        charges=Decimal("0.1"),
        ts=T0,
    )


async def _rows(sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxBatch)) or 0)


async def _drain(subscription) -> list:
    got = []
    while (item := await subscription.get(wait=0.2)) is not None:
        got.append(item[1])
    return got


async def test_committed_events_are_published_once_with_ids_and_the_row_is_retired(sessions):
    bus = InProcessEventBus()
    relay = Relay(sessions, bus)
    sub = await bus.subscribe([user_channel(1)])
    before = await _rows(sessions)
    outbox = Outbox()
    outbox.add(user_channel(1), _fill(1))
    outbox.add(user_channel(1), _fill(2))

    async with transaction(sessions) as session:
        await outbox.stage(session, T0)
    await relay.send(outbox)

    got = await _drain(sub)
    assert [m.fill_id for m in got] == [1, 2]
    assert all(m.event_id for m in got) and got[0].event_id != got[1].event_id
    assert await _rows(sessions) == before
    await sub.close()


async def test_rolled_back_change_publishes_nothing_and_leaves_no_row(sessions):
    bus = InProcessEventBus()
    relay = Relay(sessions, bus, left_after_s=0)
    sub = await bus.subscribe([user_channel(1)])
    before = await _rows(sessions)
    outbox = Outbox()
    outbox.add(user_channel(1), _fill(3))

    with pytest.raises(RuntimeError):
        async with transaction(sessions) as session:
            await outbox.stage(session, T0)
            raise RuntimeError("the change fails after its events were staged")
    await relay.turn()
    await relay.turn()

    assert await _drain(sub) == []
    assert await _rows(sessions) == before
    await sub.close()


async def test_events_of_a_writer_stopped_after_commit_are_relayed_with_the_same_ids(sessions):
    bus = InProcessEventBus()
    sub = await bus.subscribe([user_channel(1)], [CHANNEL_CONTROL])
    outbox = Outbox()
    outbox.add(user_channel(1), _fill(4))
    outbox.add(CHANNEL_CONTROL, ControlEvent(action="halt", user_id=1, reason="x", ts=T0))
    async with transaction(sessions) as session:
        await outbox.stage(session, T0)
    staged_ids = [m.event_id for _, m in outbox.messages]
    # The writer stops here: committed, never sent.

    relay = Relay(sessions, bus, left_after_s=0.05)
    await relay.turn()  # first sight: not left long enough yet
    assert await _drain(sub) == []
    await asyncio.sleep(0.06)
    await relay.turn()

    got = await _drain(sub)
    assert [m.event_id for m in got] == staged_ids
    assert relay.relayed == 1
    assert await _rows(sessions) == 0
    await sub.close()


async def test_two_relays_and_a_late_sender_deliver_each_event_once_past_the_id_filter(sessions):
    bus = InProcessEventBus()
    sub = await bus.subscribe([user_channel(1)])
    outboxes = []
    for n in range(5):
        outbox = Outbox()
        outbox.add(user_channel(1), _fill(10 + n))
        async with transaction(sessions) as session:
            await outbox.stage(session, T0)
        outboxes.append(outbox)
    one, two = Relay(sessions, bus, left_after_s=0), Relay(sessions, bus, left_after_s=0)

    await one.turn()
    await asyncio.gather(one.turn(), two.turn())
    await Relay(sessions, bus).send(outboxes[0])  # the writer comes back and sends too

    seen = EventIds()
    delivered = [m for m in await _drain(sub) if seen.is_new(m)]
    assert sorted(m.fill_id for m in delivered) == [10, 11, 12, 13, 14]
    assert await _rows(sessions) == 0
    await sub.close()


def test_staging_twice_is_refused():
    outbox = Outbox()
    outbox.batch_id = 7
    with pytest.raises(RuntimeError):
        asyncio.run(outbox.stage(None, T0))  # type: ignore[arg-type]


class _CountingBus(InProcessEventBus):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def publish(self, channel, message) -> None:
        self.calls += 1
        await super().publish(channel, message)

    async def publish_many(self, items) -> None:
        self.calls += 1
        await super().publish_many(items)


async def test_a_transactions_events_leave_in_one_bus_call_in_order(sessions):
    """A batch of decisions commits hundreds of events: one call to the bus (one round trip
    to Redis), not one per event."""
    bus = _CountingBus()
    relay = Relay(sessions, bus)
    sub = await bus.subscribe([user_channel(1), CHANNEL_CONTROL])
    outbox = Outbox()
    for n in range(1, 51):
        outbox.add(user_channel(1), _fill(n))
    outbox.add(CHANNEL_CONTROL, ControlEvent(action="halt", user_id=1, ts=T0))

    async with transaction(sessions) as session:
        await outbox.stage(session, T0)
    await relay.send(outbox)

    got = await _drain(sub)
    assert bus.calls == 1
    assert [getattr(m, "fill_id", None) for m in got] == [*range(1, 51), None]
    await sub.close()
