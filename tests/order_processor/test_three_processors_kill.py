"""10,000 intents through three order processor processes; one is killed with -9 mid-stream.

Three order processors (``order_processor.main`` with the real paper broker) share
the 16 account partitions of one PostgreSQL database through their leases and
consume the partition streams on one Redis. 10,000 LIMIT buys of 400 accounts go
onto the streams: nine in ten are marketable (limit 110 with the price at 100) and
fill on the feed's next tick, one in ten rests (limit 90). When about a third are
stored, one processor is killed with SIGKILL: its leases run out, the survivors
take over its partitions, the intents it held unacknowledged, and its resting
orders (they go back into a live paper book from the database).

Once every order is decided, the price falls to 85 and crosses every resting
order: all of them must fill within 10 s of the crossing. Then: every intent is
exactly one order (0 lost, 0 doubled), every order was decided once (one verdict
of the one check), and every order filled exactly once for its quantity.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shared.contracts import (
    GROUP_ORDER_PROCESSOR,
    ORDER_STREAMS,
    OrderIntent,
    OrderType,
    Side,
    TickMsg,
    intent_stream,
    tick_channel,
)

pytestmark = pytest.mark.service

ROOT = Path(__file__).resolve().parents[2]
INTENTS = 10_000
ACCOUNTS = 400
REST_EVERY = 10  # every 10th order rests until the price crosses it
SYMBOL = "SOLUSDT"
CROSS_WITHIN_S = 10.0
LIMITS = {"check_order": ["kill_switch"]}  # no check needs a tick store

PROCESSOR = """
from order_processor.config import ProcessorOptions
from order_processor.main import run
from shared.config import Settings

run(
    Settings(),
    options=ProcessorOptions(
        claim_idle_ms=2000, claim_every_s=0.5, sweep_every_s=0.5, stuck_after_s=2,
        lease_ttl_s=2, lease_renew_every_s=0.5,
    ),
)
"""


@pytest.fixture
def redis():
    from tests.servers import MissingBinaryError, RedisServer

    try:
        server = RedisServer()
    except MissingBinaryError as exc:
        pytest.skip(str(exc))
    with server:
        yield server


def _processor(env: dict[str, str], name: str):
    from tests.servers import ProcessServer

    def ready(server) -> bool:
        return "order processor started" in server.log_path.read_text(errors="replace")

    return ProcessServer(
        [sys.executable, "-c", PROCESSOR],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        ready=ready,
        name=name,
        ready_timeout=60,
    )


async def _setup(sessions) -> list[tuple[int, int]]:
    from sqlalchemy import insert

    from shared.db import transaction
    from shared.models import BrokerAccount, User, UserRiskLimits

    async with transaction(sessions) as session:
        users = (
            await session.scalars(
                insert(User).returning(User.id, sort_by_parameter_order=True),
                [{"email": f"k{n}@example.com", "password_hash": "-"} for n in range(ACCOUNTS)],
            )
        ).all()
        accounts = (
            await session.scalars(
                insert(BrokerAccount).returning(BrokerAccount.id, sort_by_parameter_order=True),
                [
                    {
                        "user_id": u,
                        "broker": "paper",
                        "label": "main",
                        "starting_capital": Decimal(100_000_000),
                        "currency": "USDT",
                    }
                    for u in users
                ],
            )
        ).all()
        await session.execute(
            insert(UserRiskLimits), [{"user_id": u, "limits": LIMITS} for u in users]
        )
    return list(zip(users, accounts, strict=True))


def _intents(accounts: list[tuple[int, int]]) -> list[OrderIntent]:
    now = datetime.now(UTC)
    return [
        OrderIntent(
            client_order_id=f"k-{i}",
            user_id=accounts[i % ACCOUNTS][0],
            broker_account_id=accounts[i % ACCOUNTS][1],
            symbol=SYMBOL,
            side=Side.BUY,
            quantity=Decimal(1 + i % 3),
            order_type=OrderType.LIMIT,
            limit_price=Decimal(90 if i % REST_EVERY == 0 else 110),
            created_at=now,
        )
        for i in range(INTENTS)
    ]


async def _statuses(sessions) -> dict[str, int]:
    from shared.models import Order

    async with sessions() as session:
        rows = await session.execute(select(Order.status, func.count()).group_by(Order.status))
        return {s: n for s, n in rows.all()}


async def _wait(predicate, timeout: float, what: str, logs) -> float:
    started = time.monotonic()
    while not await predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out waiting for {what}\n{logs()}")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def test_three_processors_one_killed(postgres_server, redis):
    from shared.bus.redis import RedisEventBus
    from shared.config import Settings
    from shared.db import create_engine, create_sessionmaker
    from shared.models import Fill, Order, OrderPartition, RiskVerdict
    from shared.redis_client import create_redis

    db_name = f"kill3_{os.getpid()}"
    postgres_server.create_database(db_name)
    env = {
        "ALGOTRADE_ENVIRONMENT": "development",
        "ALGOTRADE_PROFILE": "distributed",
        "ALGOTRADE_DB_HOST": postgres_server.host,
        "ALGOTRADE_DB_PORT": str(postgres_server.port),
        "ALGOTRADE_DB_NAME": db_name,
        "ALGOTRADE_DB_USER": postgres_server.user,
        "ALGOTRADE_REDIS_HOST": redis.host,
        "ALGOTRADE_REDIS_PORT": str(redis.port),
        "ALGOTRADE_INFLUX_URL": "http://127.0.0.1:9",  # LIMIT orders need no tick store
        "ALGOTRADE_LOG_LEVEL": "INFO",
    }
    settings = Settings(
        _env_file=None,
        environment="development",
        profile="distributed",
        db_host=postgres_server.host,
        db_port=postgres_server.port,
        db_name=db_name,
        db_user=postgres_server.user,
    )
    from algotrade.migrate import upgrade

    await asyncio.to_thread(upgrade, settings.migration_url)
    engine = create_engine(settings)
    sessions = create_sessionmaker(engine)
    accounts = await _setup(sessions)
    intents = _intents(accounts)
    resting = {i.client_order_id for i in intents if i.limit_price == Decimal(90)}
    bus = RedisEventBus(create_redis(host=redis.host, port=redis.port), owns_client=True)
    processors = [_processor(env, f"order-processor-{n}") for n in range(3)]
    price = {"now": Decimal(100)}

    def logs() -> str:
        return "\n".join(f"--- {p.name}\n{p.log_tail(15)}" for p in processors)

    async def feed() -> None:  # the market: a tick every 100 ms at the current price
        while True:
            tick = TickMsg(symbol=SYMBOL, ts=datetime.now(UTC), price=float(price["now"]))
            await bus.publish(tick_channel(SYMBOL), tick)
            await asyncio.sleep(0.1)

    ticker: asyncio.Task[None] | None = None
    try:
        for stream in ORDER_STREAMS:
            await bus.ensure_group(stream, GROUP_ORDER_PROCESSOR)
        for p in processors:
            p.start()

        async def shared_out() -> bool:
            async with sessions() as session:
                owners = await session.scalars(
                    select(func.count(func.distinct(OrderPartition.owner))).where(
                        OrderPartition.expires_at > datetime.now(UTC)
                    )
                )
                return owners.one() == 3

        await _wait(shared_out, 60, "the partitions shared by three processors", logs)
        ticker = asyncio.create_task(feed())
        for start in range(0, INTENTS, 500):
            await asyncio.gather(
                *(
                    bus.append(intent_stream(i.broker_account_id), i)
                    for i in intents[start : start + 500]
                )
            )

        async def a_third_stored() -> bool:
            return sum((await _statuses(sessions)).values()) >= INTENTS // 3

        await _wait(a_third_stored, 120, "a third of the orders", logs)
        processors[0].kill()  # SIGKILL mid-stream, its leases held, its book in memory
        killed_at = sum((await _statuses(sessions)).values())

        async def all_decided() -> bool:
            statuses = await _statuses(sessions)
            pending = sum(
                [await bus.pending_count(s, GROUP_ORDER_PROCESSOR) for s in ORDER_STREAMS]
            )
            return (
                sum(statuses.values()) == INTENTS
                and statuses.get("FILLED", 0) == INTENTS - len(resting)
                and statuses.get("OPEN", 0) == len(resting)
                and pending == 0
            )

        drained = await _wait(
            all_decided, 240, "every order decided and the marketable filled", logs
        )
        price["now"] = Decimal(85)  # the crossing: every resting order is marketable now
        crossed = await _wait(
            lambda: _all_filled(sessions), CROSS_WITHIN_S + 50, "the resting orders", logs
        )

        async with sessions() as session:
            orders = (
                await session.execute(
                    select(Order.id, Order.client_order_id, Order.quantity, Order.filled_quantity)
                )
            ).all()
            fills = dict(
                (
                    await session.execute(
                        select(Fill.order_id, func.count()).group_by(Fill.order_id)
                    )
                ).all()
            )
            filled_qty = dict(
                (
                    await session.execute(
                        select(Fill.order_id, func.sum(Fill.quantity)).group_by(Fill.order_id)
                    )
                ).all()
            )
            verdicts = dict(
                (
                    await session.execute(
                        select(RiskVerdict.order_id, func.count()).group_by(RiskVerdict.order_id)
                    )
                ).all()
            )
    finally:
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(BaseException):
                await ticker
        for p in processors:
            p.cleanup()
        await bus.close()
        await engine.dispose()
        if postgres_server.is_running:
            postgres_server.drop_database(db_name)

    keys = [k for _, k, _, _ in orders]
    wanted = {i.client_order_id: i.quantity for i in intents}
    lost = len(set(wanted) - set(keys))
    doubled = len(keys) - len(set(keys))
    twice_decided = sum(1 for oid, *_ in orders if verdicts.get(oid, 0) != 1)
    twice_filled = sum(1 for oid, *_ in orders if fills.get(oid, 0) != 1)
    wrong_qty = sum(
        1 for oid, k, q, f in orders if not (q == f == filled_qty.get(oid) == wanted.get(k))
    )
    print(
        f"\n{INTENTS} intents, {ACCOUNTS} accounts, 3 processors, one killed at {killed_at} "
        f"orders stored; drained {drained:.1f} s after the kill; {len(resting)} resting orders "
        f"filled {crossed:.1f} s after the crossing; lost {lost}, doubled {doubled}, decided "
        f"other than once {twice_decided}, filled other than once {twice_filled}, "
        f"wrong quantity {wrong_qty}"
    )
    assert killed_at < INTENTS, "the kill came too late to interrupt anything"
    assert lost == 0 and doubled == 0
    assert twice_decided == 0 and twice_filled == 0 and wrong_qty == 0
    assert crossed <= CROSS_WITHIN_S, f"resting orders filled {crossed:.1f} s after the crossing"


async def _all_filled(sessions) -> bool:
    return (await _statuses(sessions)) == {"FILLED": INTENTS}
