"""Account partitions shared by order processors: leases, fencing tokens, rebalancing and
take-over of a processor that died with resting orders and intents on its streams."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from order_processor.config import ProcessorOptions
from order_processor.engine import cancel_until_done
from order_processor.ownership import Ownership, PartitionLost
from shared.bus import InProcessEventBus
from shared.clock import EventClock
from shared.contracts import ORDER_PARTITIONS, intent_stream, order_partition
from shared.db import create_engine, create_sessionmaker, transaction
from shared.models import OrderPartition
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import processor_env

pytestmark = pytest.mark.service

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(request, tmp_path):
    from algotrade.migrate import upgrade

    settings = settings_for(request.param, request, tmp_path)
    await asyncio.to_thread(upgrade, settings.migration_url)
    db = create_engine(settings)
    yield create_sessionmaker(db)
    await db.dispose()


async def _owners(sessions) -> dict[int, tuple[str | None, int]]:
    async with sessions() as session:
        rows = (await session.scalars(select(OrderPartition))).all()
        return {r.partition: (r.owner, r.token) for r in rows}


async def test_partitions_are_shared_taken_over_and_fenced(sessions):
    clock = EventClock(T0)
    a = Ownership(sessions, clock, "a", ttl_s=5)
    b = Ownership(sessions, clock, "b", ttl_s=5)

    first = await a.balance()
    assert first.taken == list(range(ORDER_PARTITIONS)) and a.owned == set(first.taken)

    # b joins: a hands back b's half (p % 2 == 1), b takes it on its next turn.
    await b.balance()
    handed = await a.balance()
    assert handed.lost == list(range(1, ORDER_PARTITIONS, 2))
    joined = await b.balance()
    assert joined.taken == list(range(1, ORDER_PARTITIONS, 2))
    owners = await _owners(sessions)
    assert {p: o for p, (o, _) in owners.items()} == {
        p: ("a" if p % 2 == 0 else "b") for p in range(ORDER_PARTITIONS)
    }
    async with transaction(sessions) as session:
        await a.fence(session, [0, 2])
        await b.fence(session, [1])
        with pytest.raises(PartitionLost):
            await a.fence(session, [1])

    # a stops renewing (it died); once its leases ran out b takes everything, with new tokens.
    clock.advance_to(T0 + timedelta(seconds=3))
    assert (await b.balance()).taken == []  # a's leases still run
    clock.advance_to(T0 + timedelta(seconds=6))
    took = await b.balance()
    assert took.taken == list(range(0, ORDER_PARTITIONS, 2))
    after = await _owners(sessions)
    assert all(owner == "b" for owner, _ in after.values())
    assert all(after[p][1] == owners[p][1] + 1 for p in range(0, ORDER_PARTITIONS, 2))

    # a comes back believing it holds its half: every write it tries is fenced off...
    async with transaction(sessions) as session:
        with pytest.raises(PartitionLost):
            await a.fence(session, [0])
    # ...and its next turn tells it so; b is live, so a gets its half back in two turns.
    back = await a.balance()
    assert sorted(back.lost) == list(range(0, ORDER_PARTITIONS, 2))
    await b.balance()
    assert (await a.balance()).taken == list(range(0, ORDER_PARTITIONS, 2))

    # A clean stop hands everything back at once.
    assert await b.release() == list(range(1, ORDER_PARTITIONS, 2))
    assert sorted((await a.balance()).taken) == list(range(1, ORDER_PARTITIONS, 2))


async def _crash(env) -> None:
    """The engine stops dead: no more loops, no hand-back, its paper book gone with it."""
    engine = env.engine
    await cancel_until_done(engine._tasks + [t for _, t in engine._consumers.values()])
    engine._tasks.clear()
    engine._consumers.clear()
    engine.broker.listen(None)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_live_processor_takes_over_a_dead_ones_accounts(backend, request, tmp_path):
    settings = settings_for(backend, request, tmp_path)
    fast = ProcessorOptions(read_block_ms=20, lease_ttl_s=1.0, lease_renew_every_s=0.2)
    bus = InProcessEventBus()
    async with processor_env(settings, bus=bus, options=fast) as a:
        await a.tick("SOLUSDT", 150)
        accounts = [await a.account() for _ in range(4)]
        limits = {"disabled_checks": ["duplicate_position", "order_rate"]}
        for user, _ in accounts:
            await _limits(a, user, limits)
        # Resting buys far below the price, decided by a (it owns every partition).
        resting = [
            await a.place(user, account, order_type="LIMIT", limit_price=Decimal(145))
            for user, account in accounts
        ]
        assert {o.status for o in resting} == {"OPEN"}

        async with processor_env(settings, bus=bus, options=fast) as b:
            await b.tick("SOLUSDT", 150)  # its feed: the same ticks as every processor
            await _until(lambda: len(b.engine.ownership.owned) == ORDER_PARTITIONS // 2)
            await _crash(a)
            # Intents that reach the dead processor's streams wait there for its successor.
            late = [a.intent(user, account) for user, account in accounts]
            for intent in late:
                await bus.append(intent_stream(intent.broker_account_id), intent)

            await _until(lambda: len(b.engine.ownership.owned) == ORDER_PARTITIONS, 10)
            await _until_decided(b, late)
            await b.tick("SOLUSDT", 144)  # crosses every resting buy

            async def filled() -> bool:
                rows = [await b.order(user, o.id) for (user, _), o in zip(accounts, resting)]
                return all(r.status == "FILLED" for r in rows)

            await _until(filled, 10)
            for (user, _), intent in zip(accounts, late):
                row = await b.order_by_key(user, intent.client_order_id)
                assert row.status == "FILLED", (row.status, row.reason_code, row.reason)
            fills = await _fill_counts(b, accounts)
            assert fills == {account: 2 for _, account in accounts}  # none twice
            assert {order_partition(account) for _, account in accounts} <= (
                b.engine.ownership.owned
            )


async def _limits(env, user, limits) -> None:
    from shared.models import UserRiskLimits

    async with transaction(env.sessions) as session:
        session.add(UserRiskLimits(user_id=user, limits=limits))


async def _fill_counts(env, accounts) -> dict[int, int]:
    from sqlalchemy import func

    from shared.models import Fill

    async with env.sessions() as session:
        rows = await session.execute(
            select(Fill.broker_account_id, func.count())
            .where(Fill.broker_account_id.in_([a for _, a in accounts]))
            .group_by(Fill.broker_account_id)
        )
        return dict(rows.all())


async def _until(check, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        done = check()
        if asyncio.iscoroutine(done):
            done = await done
        if done:
            return
        assert asyncio.get_running_loop().time() < deadline, "not within the time"
        await asyncio.sleep(0.05)


async def _until_decided(env, intents) -> None:
    async def decided() -> bool:
        rows = [await env.order_by_key(i.user_id, i.client_order_id) for i in intents]
        return all(r is not None and r.status not in ("PENDING", "SUBMITTED") for r in rows)

    await _until(decided, 10)
