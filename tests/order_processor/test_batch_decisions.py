"""Many intents decided in one transaction: stream order per account, refusals kept apart,
idempotency within and across batches, round trips that do not grow with the batch."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event

from order_processor.config import ProcessorOptions
from order_processor.consumer import IntentConsumer
from order_processor.repositories import RiskDecisionRepository
from order_processor.service import IdempotencyKeyReused
from shared.db import transaction
from shared.errors import NotFound
from shared.models import UserRiskLimits
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import processor_env

pytestmark = pytest.mark.service

LIMIT = {"order_type": "LIMIT", "limit_price": Decimal(150)}


async def _env(backend, request, tmp_path, *, start=True):
    settings = settings_for(backend, request, tmp_path)
    options = ProcessorOptions(read_block_ms=20)
    async with processor_env(settings, options=options, start=start) as built:
        await built.tick("SOLUSDT", 150)
        yield built


@pytest.fixture(params=["sqlite", "postgres", "pgbouncer"])
async def env(request, tmp_path):
    async for built in _env(request.param, request, tmp_path):
        yield built


@pytest.fixture(params=["sqlite", "postgres", "pgbouncer"])
async def quiet_env(request, tmp_path):
    """The engine's loops stay off, so every statement seen is the batch's."""
    async for built in _env(request.param, request, tmp_path, start=False):
        yield built


async def _decisions(env, user_id, order_id):
    """How many checks' verdicts are stored on the order (every run of the chain)."""
    async with env.sessions() as session:
        return len(await RiskDecisionRepository(session, user_id).for_order(order_id))


async def test_a_batch_decides_each_accounts_orders_in_stream_order(env):
    user_a, account_a = await env.account()
    user_b, account_b = await env.account()
    first = env.intent(user_a, account_a, client_order_id="a-1", **LIMIT)
    intents = [
        first,
        # The same account again: the first is working now, so this one is a duplicate.
        env.intent(user_a, account_a, client_order_id="a-2", **LIMIT),
        env.intent(user_b, account_b, client_order_id="b-1", **LIMIT),
        first,  # delivered twice in one read: a replay
        env.intent(user_a, account_a, client_order_id="a-1", quantity=Decimal(2), **LIMIT),
        env.intent(user_b, account_a, client_order_id="b-x", **LIMIT),  # not b's account
    ]

    refused = await env.engine.processor.accept_many(intents)

    assert sorted(refused) == [4, 5]
    assert isinstance(refused[4], IdempotencyKeyReused)
    assert isinstance(refused[5], NotFound)
    a1 = await env.order_by_key(user_a, "a-1")
    a2 = await env.order_by_key(user_a, "a-2")
    b1 = await env.order_by_key(user_b, "b-1")
    assert (a1.status, a1.quantity) == ("OPEN", Decimal(1))
    assert (a2.status, a2.reason_code) == ("DENIED", "duplicate_position")
    assert b1.status == "OPEN"
    assert await env.order_by_key(user_b, "b-x") is None
    for user_id, row in ((user_a, a1), (user_a, a2), (user_b, b1)):
        assert await _decisions(env, user_id, row.id) > 0  # every verdict, passes included

    # Delivered again in a later batch: nothing changes.
    assert await env.engine.processor.accept_many([first]) == {}
    again = await env.order_by_key(user_a, "a-1")
    assert (again.id, again.version) == (a1.id, a1.version)


async def test_round_trips_do_not_grow_with_the_batch(quiet_env):
    env = quiet_env
    statements: list[str] = []
    engine = env.sessions.kw["bind"].sync_engine

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement[:90].replace("\n", " "))

    async def batch(size: int) -> int:
        intents = []
        for _ in range(size):
            user, account = await env.account()
            intents.append(env.intent(user, account, **LIMIT))
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert await env.engine.processor.accept_many(intents) == {}
        finally:
            event.remove(engine, "before_cursor_execute", count)
        for intent in intents:
            row = await env.order_by_key(intent.user_id, intent.client_order_id)
            assert row.status == "OPEN"
        return len(statements)

    small, large = await batch(3), await batch(30)
    assert large == small, (small, large)
    assert small <= 16


async def test_new_orders_are_inserted_once_in_their_decided_state(quiet_env):
    """Ids are taken first (PostgreSQL: the sequence; SQLite: its AUTOINCREMENT counter), so
    a new order is stored once, decided (OPEN or DENIED), never inserted PENDING and then
    updated; its events carry the stored id."""
    env = quiet_env
    user, account = await env.account()
    intents = [
        env.intent(user, account, client_order_id="first", **LIMIT),
        env.intent(user, account, client_order_id="again", **LIMIT),  # a duplicate: DENIED
    ]
    engine = env.sessions.kw["bind"].sync_engine
    statements: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append((" ".join(statement.split()), parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert await env.engine.processor.accept_many(intents) == {}
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    order_writes = [
        (sql, params)
        for sql, params in statements
        if sql.startswith(("INSERT INTO orders", "UPDATE orders"))
    ]
    assert len(order_writes) == 1 and order_writes[0][0].startswith("INSERT INTO orders")
    first = await env.order_by_key(user, "first")
    again = await env.order_by_key(user, "again")
    assert (first.status, again.status) == ("OPEN", "DENIED")
    assert "PENDING" not in str(order_writes[0][1])
    assert again.id > first.id
    async with env.sessions() as session:
        verdicts = await RiskDecisionRepository(session, user).for_order(again.id)
    assert verdicts  # the verdicts point at the ids the orders were stored under


async def test_a_failing_batch_is_handled_one_by_one(env, monkeypatch):
    user, account = await env.account()
    async with transaction(env.sessions) as session:
        session.add(
            UserRiskLimits(user_id=user, limits={"disabled_checks": ["duplicate_position"]})
        )
    good = [env.intent(user, account, **LIMIT) for _ in range(3)]
    bad = env.intent(user, account, client_order_id="poison", **LIMIT)
    decider = env.engine.processor.decider
    evaluate = decider.evaluate

    async def failing(row, state, now):
        if row.client_order_id == "poison":
            raise RuntimeError("the database went away")
        return await evaluate(row, state, now)

    monkeypatch.setattr(decider, "evaluate", failing)
    stream = "stream:test-batch-fallback"
    group = "test"
    for intent in (good[0], bad, *good[1:]):
        await env.bus.append(stream, intent)
    await env.bus.ensure_group(stream, group)
    consumer = IntentConsumer(
        env.bus,
        env.engine.handle_intent,
        ProcessorOptions(batch_min=1),
        stream=stream,
        group=group,
        batch_handler=env.engine.processor.accept_many,
    )
    entries = await env.bus.read_group(stream, group, "c", count=10, block_ms=0)
    await consumer.handle(entries)

    for intent in good:
        assert (await env.order_by_key(user, intent.client_order_id)).status == "OPEN"
    assert await env.order_by_key(user, "poison") is None  # rolled back, left pending
    assert await env.bus.pending_count(stream, group) == 1
