"""Order burst: 10,000 intents from 1,000 accounts, drained by two order processor processes.

A candle close across many symbols sends a burst of order intents. Here 1,000
accounts (users with the default risk limits, so the whole default chain runs)
each send ten LIMIT buys, two in each of the five crypto instruments, 1% under
the market with a stop 2% under it, onto their partitions' intent streams in
Redis (the second buy of a symbol is denied ``duplicate_position``: half the
burst passes the whole chain, half is refused by it). Two order processors
(``order_processor.main``, the real paper broker) run as their own processes on
a throwaway PostgreSQL and Redis, share the 16 partitions through their leases,
and take the burst: every intent becomes an order, decided by the risk chain
(accepted and resting in the paper book, or denied with its reason), committed
with its verdicts and its events.

Reported: the time from the first intent appended until the last order is
decided (target: 5 s), and the p50/p99 of intent-to-decision latency (the
intent's ``created_at``, stamped as it is appended, to the order's decision
time). The reference is the same number of one-row INSERT+COMMIT transactions
on the same server, one after the other: what storing the orders costs at the
least without batching.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench._core import Metric, median, percentile

DESCRIPTION = "order burst: 10,000 intents of 1,000 accounts, 2 processor processes"

ROOT = Path(__file__).resolve().parents[1]
SYMBOLS = {"BTCUSDT": 95000, "ETHUSDT": 3200, "SOLUSDT": 150, "BNBUSDT": 900, "XRPUSDT": 2.2}
TARGET_S = 5.0
PROCESSOR = """
from order_processor.config import ProcessorOptions
from order_processor.main import run
from shared.config import Settings

run(Settings(), options=ProcessorOptions(read_count=256, read_block_ms=20, lease_renew_every_s=0.5))
"""


async def _setup(sessions: Any, accounts: int) -> list[tuple[int, int]]:
    from sqlalchemy import insert

    from shared.db import transaction
    from shared.models import BrokerAccount, User

    async with transaction(sessions) as session:
        users = (
            await session.scalars(
                insert(User).returning(User.id, sort_by_parameter_order=True),
                [{"email": f"b{n}@example.com", "password_hash": "-"} for n in range(accounts)],
            )
        ).all()
        ids = (
            await session.scalars(
                insert(BrokerAccount).returning(BrokerAccount.id, sort_by_parameter_order=True),
                [
                    {
                        "user_id": u,
                        "broker": "paper",
                        "label": "main",
                        "starting_capital": Decimal(1_000_000),
                        "currency": "USDT",
                    }
                    for u in users
                ],
            )
        ).all()
    return list(zip(users, ids, strict=True))


def _processor(env: dict[str, str], name: str) -> Any:
    from tests.servers import ProcessServer

    def ready(server: Any) -> bool:
        return "order processor started" in server.log_path.read_text(errors="replace")

    return ProcessServer(
        [sys.executable, "-c", PROCESSOR],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        ready=ready,
        name=name,
        ready_timeout=60,
    )


async def _burst(
    postgres: Any, redis: Any, accounts: int, per_account: int
) -> tuple[float, list[float], float]:
    from sqlalchemy import func, select, text

    from algotrade.migrate import upgrade
    from shared.bus.redis import RedisEventBus
    from shared.config import Settings
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
    from shared.db import create_engine, create_sessionmaker
    from shared.models import Order, OrderPartition
    from shared.redis_client import create_redis

    postgres.create_database("burst")
    settings = Settings(
        _env_file=None,
        profile="distributed",
        db_host=postgres.host,
        db_port=postgres.port,
        db_name="burst",
        db_user=postgres.user,
    )
    await asyncio.to_thread(upgrade, settings.migration_url)
    engine = create_engine(settings)
    sessions = create_sessionmaker(engine)
    pairs = await _setup(sessions, accounts)
    n = accounts * per_account
    async with engine.connect() as conn:  # the reference: n one-row transactions
        await conn.execute(text("CREATE TABLE burst_floor (id int, v text)"))
        await conn.commit()
        t0 = time.perf_counter()
        for i in range(n):
            await conn.execute(text("INSERT INTO burst_floor VALUES (:i, 'x')"), {"i": i})
            await conn.commit()
        floor_s = time.perf_counter() - t0
    env = {
        "ALGOTRADE_ENVIRONMENT": "development",
        "ALGOTRADE_PROFILE": "distributed",
        "ALGOTRADE_DB_HOST": postgres.host,
        "ALGOTRADE_DB_PORT": str(postgres.port),
        "ALGOTRADE_DB_NAME": "burst",
        "ALGOTRADE_DB_USER": postgres.user,
        "ALGOTRADE_REDIS_HOST": redis.host,
        "ALGOTRADE_REDIS_PORT": str(redis.port),
        "ALGOTRADE_INFLUX_URL": "http://127.0.0.1:9",  # prices come from the ticks below
        "ALGOTRADE_LOG_LEVEL": "INFO",
    }
    bus = RedisEventBus(create_redis(host=redis.host, port=redis.port), owns_client=True)
    processors = [_processor(env, f"order-processor-{k}") for k in range(2)]
    try:
        for stream in ORDER_STREAMS:
            await bus.ensure_group(stream, GROUP_ORDER_PROCESSOR)
        for p in processors:
            p.start()
        deadline = time.monotonic() + 60
        while True:  # both processors own their half of the partitions
            async with sessions() as session:
                owners = await session.scalar(
                    select(func.count(func.distinct(OrderPartition.owner))).where(
                        OrderPartition.expires_at > datetime.now(UTC)
                    )
                )
            if owners == 2:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the processors did not share the partitions")
            await asyncio.sleep(0.2)
        for symbol, price in SYMBOLS.items():  # the market, as the feed would publish it
            tick = TickMsg(symbol=symbol, ts=datetime.now(UTC), price=float(price))
            await bus.publish(tick_channel(symbol), tick)
        await asyncio.sleep(0.5)
        symbols = list(SYMBOLS.items())
        intents = []
        for k in range(per_account):
            for user_id, account_id in pairs:
                symbol, price = symbols[(account_id + k) % len(symbols)]
                intents.append(
                    (
                        user_id,
                        account_id,
                        symbol,
                        Decimal(str(price)) * Decimal("0.99"),
                        Decimal(str(price)) * Decimal("0.98"),
                        f"burst-{account_id}-{k}",
                    )
                )
        t0 = time.perf_counter()
        for start in range(0, n, 500):
            now = datetime.now(UTC)
            chunk = [
                OrderIntent(
                    client_order_id=key,
                    user_id=user_id,
                    broker_account_id=account_id,
                    symbol=symbol,
                    side=Side.BUY,
                    quantity=Decimal("0.001") if symbol == "BTCUSDT" else Decimal(1),
                    order_type=OrderType.LIMIT,
                    limit_price=limit.quantize(Decimal("0.01")),
                    stop=stop.quantize(Decimal("0.01")),
                    created_at=now,
                )
                for user_id, account_id, symbol, limit, stop, key in intents[start : start + 500]
            ]
            by_stream: dict[str, list[Any]] = {}  # as the strategy workers send a burst
            for intent in chunk:
                by_stream.setdefault(intent_stream(intent.broker_account_id), []).append(intent)
            await asyncio.gather(*(bus.append_many(s, batch) for s, batch in by_stream.items()))
        while True:
            async with sessions() as session:
                undecided = await session.scalar(
                    select(func.count())
                    .select_from(Order)
                    .where(Order.status.in_(["PENDING", "SUBMITTED"]))
                )
                stored = await session.scalar(select(func.count()).select_from(Order))
            if stored == n and undecided == 0:
                break
            if time.perf_counter() - t0 > 300:
                raise RuntimeError(f"burst not drained: {stored} of {n} stored")
            await asyncio.sleep(0.05)
        async with sessions() as session:
            rows = (await session.execute(select(Order.created_at, Order.updated_at))).all()
            outcomes = (
                await session.execute(
                    select(Order.status, Order.reason_code, func.count()).group_by(
                        Order.status, Order.reason_code
                    )
                )
            ).all()
        print(
            "decisions:", ", ".join(f"{s} {r or ''} {c}".replace("  ", " ") for s, r, c in outcomes)
        )
        drained = max(u for _, u in rows)
        first = min(c for c, _ in rows)
        latencies = [(u - c).total_seconds() for c, u in rows]
        return (drained - first).total_seconds(), latencies, floor_s
    finally:
        for p in processors:
            p.cleanup()
        await bus.close()
        await engine.dispose()


def run(quick: bool) -> list[Metric]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.servers import MissingBinaryError, PostgresServer, RedisServer

    accounts, per_account = (200, 10) if quick else (1_000, 10)
    try:
        postgres, redis = PostgresServer(), RedisServer()
    except MissingBinaryError:
        took, latencies, floor_s = math.nan, [math.nan], math.nan
    else:
        with postgres, redis:
            took, latencies, floor_s = asyncio.run(_burst(postgres, redis, accounts, per_account))
    n = accounts * per_account
    p50, p99 = median(latencies) * 1e3, percentile(latencies, 99) * 1e3
    return [
        Metric(
            "drain_s",
            took,
            "s",
            reference=f"{n} one-row INSERT+COMMIT transactions, same server",
            reference_value=floor_s,
            target=f"<= {TARGET_S:g} s for 10,000 intents" if not quick else None,
            met=(took <= TARGET_S) if not quick else None,
        ),
        Metric("orders_per_s", n / took, "orders/s"),
        Metric("intent_to_decision_p50_ms", p50, "ms"),
        Metric("intent_to_decision_p99_ms", p99, "ms"),
    ]
