"""Kill -9 the order processor mid-stream, restart it: every intent becomes exactly one order.

The processor runs as its own process (``order_processor.main``) against a
throwaway PostgreSQL and Redis. Its broker here is a journaling fake: every
order it receives is written (and synced) to a file before it answers, and
``status`` answers from that file, so the journal counts broker submissions
across processes, and a restarted processor can reconcile by client order id.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from order_processor.brokers.base import BrokerEvent, BrokerRejected
from order_processor.domain.orders import Order, OrderKey
from order_processor.domain.paper import OrderAccepted
from shared.contracts import (
    GROUP_ORDER_PROCESSOR,
    ORDER_STREAMS,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    intent_stream,
)

pytestmark = pytest.mark.service

ROOT = Path(__file__).resolve().parents[2]
INTENTS = 300
ACCOUNTS = 10
ONLY_KILL_SWITCH = {"check_order": ["kill_switch"]}


class JournalBroker:
    """A broker whose book is an append-only file: it survives the processor being killed."""

    name = "paper"
    in_process = False  # a broker elsewhere: decided orders are committed before it is called

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.orders: dict[OrderKey, Order] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                order = _order_from(json.loads(line))
                self.orders[order.key] = order

    def listen(self, listener) -> None:  # fills never happen here
        pass

    async def place(self, order: Order) -> list[BrokerEvent]:
        opened = order.with_status(OrderStatus.OPEN, datetime.now(UTC))
        with self.path.open("a") as journal:
            journal.write(json.dumps(_record(opened)) + "\n")
            journal.flush()
            os.fsync(journal.fileno())
        self.orders[order.key] = opened
        return [OrderAccepted(opened, datetime.now(UTC))]

    async def cancel(self, key: OrderKey) -> list[BrokerEvent]:
        raise BrokerRejected("unsupported", "the journal broker does not cancel")

    async def modify(self, order: Order) -> list[BrokerEvent]:
        return []

    async def status(self, key: OrderKey) -> Order | None:
        return self.orders.get(key)

    async def load(self, orders) -> None:
        pass

    def working_keys(self):
        return []

    async def on_tick(self, symbol, ts, price, qty) -> None:
        pass

    async def advance(self, now) -> None:
        pass


def _record(order: Order) -> dict:
    return {
        "order_id": order.order_id,
        "user_id": order.user_id,
        "account": order.broker_account_id,
        "key": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "quantity": str(order.quantity),
        "limit": str(order.limit_price),
        "created_at": order.created_at.isoformat(),
    }


def _order_from(data: dict) -> Order:
    return Order(
        order_id=data["order_id"],
        user_id=data["user_id"],
        broker_account_id=data["account"],
        client_order_id=data["key"],
        symbol=data["symbol"],
        side=Side(data["side"]),
        quantity=Decimal(data["quantity"]),
        order_type=OrderType.LIMIT,
        limit_price=Decimal(data["limit"]),
        status=OrderStatus.OPEN,
        created_at=datetime.fromisoformat(data["created_at"]),
    )


PROCESSOR = """
import sys
from order_processor.config import ProcessorOptions
from order_processor.main import run
from shared.config import Settings
from tests.order_processor.test_service_crash import JournalBroker

run(
    Settings(),
    broker=JournalBroker(sys.argv[1]),
    options=ProcessorOptions(
        claim_idle_ms=1000, claim_every_s=0.5, sweep_every_s=0.5, stuck_after_s=1,
        read_count=2, concurrency=1, read_block_ms=100,
        lease_ttl_s=2, lease_renew_every_s=0.5,
    ),
)
"""


@pytest.fixture
def redis(request):
    from tests.servers import MissingBinaryError, RedisServer

    try:
        server = RedisServer()
    except MissingBinaryError as exc:
        pytest.skip(str(exc))
    with server:
        yield server


async def _setup_database(settings) -> list[tuple[int, int]]:
    from algotrade.migrate import upgrade
    from shared.db import create_engine, create_sessionmaker, transaction
    from shared.models import BrokerAccount, User, UserRiskLimits

    await asyncio.to_thread(upgrade, settings.migration_url)
    engine = create_engine(settings)
    accounts = []
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            for n in range(ACCOUNTS):
                user = User(email=f"crash{n}@example.com", password_hash="-")
                session.add(user)
                await session.flush()
                account = BrokerAccount(
                    user_id=user.id,
                    broker="paper",
                    label="main",
                    starting_capital=Decimal(10_000_000),
                    currency="USDT",
                )
                session.add_all([account, UserRiskLimits(user_id=user.id, limits=ONLY_KILL_SWITCH)])
                await session.flush()
                accounts.append((user.id, account.id))
    finally:
        await engine.dispose()
    return accounts


def _intents(accounts: list[tuple[int, int]]) -> list[OrderIntent]:
    now = datetime.now(UTC)
    return [
        OrderIntent(
            client_order_id=f"crash-{i}",
            user_id=accounts[i % len(accounts)][0],
            broker_account_id=accounts[i % len(accounts)][1],
            symbol="SOLUSDT",
            side=Side.BUY,
            quantity=Decimal(1),
            order_type=OrderType.LIMIT,
            limit_price=Decimal("100"),
            created_at=now,
        )
        for i in range(INTENTS)
    ]


async def _orders(settings) -> list[tuple[str, str, int]]:
    """(client_order_id, status, decisions recorded) of every order."""
    from shared.db import create_engine
    from shared.models import Order as OrderRow
    from shared.models import RiskVerdict

    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            decisions = (
                select(func.count()).where(RiskVerdict.order_id == OrderRow.id).scalar_subquery()
            )
            rows = await conn.execute(select(OrderRow.client_order_id, OrderRow.status, decisions))
            return [(k, s, n) for k, s, n in rows.all()]
    finally:
        await engine.dispose()


def _processor(settings_env: dict[str, str], journal: Path):
    from tests.servers import ProcessServer

    starts = {"n": 0}

    def ready(server) -> bool:
        return (
            server.log_path.read_text(errors="replace").count("order processor started")
            > starts["n"]
        )

    server = ProcessServer(
        [sys.executable, "-c", PROCESSOR, str(journal)],
        env={**settings_env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        ready=ready,
        name="order-processor",
        ready_timeout=60,
    )
    return server, starts


async def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_killed_processor_loses_and_duplicates_nothing(postgres_server, redis, tmp_path):
    from shared.bus.redis import RedisEventBus
    from shared.config import Settings
    from shared.redis_client import create_redis

    db_name = f"crash_{os.getpid()}"
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
        "ALGOTRADE_INFLUX_URL": "http://127.0.0.1:9",  # no tick store: limit orders need none
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
    accounts = await _setup_database(settings)
    intents = _intents(accounts)
    bus = RedisEventBus(create_redis(host=redis.host, port=redis.port), owns_client=True)
    journal = tmp_path / "broker.journal"
    processor, starts = _processor(env, journal)
    try:
        for stream in ORDER_STREAMS:
            await bus.ensure_group(stream, GROUP_ORDER_PROCESSOR)
        for intent in intents:
            await bus.append(intent_stream(intent.broker_account_id), intent)

        processor.start()
        starts["n"] += 1

        async def some_done() -> bool:
            return len(await _orders(settings)) >= INTENTS // 4

        try:
            await _wait(some_done, 60, "the first orders")
        except AssertionError:
            print(processor.log_tail(60))
            raise
        processor.kill()  # SIGKILL, mid-stream
        killed_at = len(await _orders(settings))
        processor.start()
        starts["n"] += 1

        async def drained() -> bool:
            orders = await _orders(settings)
            pending = sum(
                [await bus.pending_count(st, GROUP_ORDER_PROCESSOR) for st in ORDER_STREAMS]
            )
            settled = all(s == "OPEN" for _, s, _ in orders)
            return len(orders) == INTENTS and settled and pending == 0

        await _wait(drained, 90, "the stream to drain")
        final = await _orders(settings)
    finally:
        log = processor.log_tail(30)
        processor.cleanup()
        await bus.close()
        if postgres_server.is_running:
            postgres_server.drop_database(db_name)

    assert killed_at < INTENTS, "the kill came too late to interrupt anything"
    keys = [k for k, _, _ in final]
    assert sorted(keys) == sorted(i.client_order_id for i in intents)  # none lost, none doubled
    assert {n for _, _, n in final} == {1}, "an order was decided more than once"
    sent = Counter(json.loads(line)["key"] for line in journal.read_text().splitlines())
    assert set(sent) == set(keys), log
    assert max(sent.values()) == 1, [k for k, n in sent.items() if n > 1]
