"""The order processor's partition streams on a three-node Redis Cluster.

Each of the 16 partitions of the accounts has its own intent stream, one key, so
every stream command (XADD, XREADGROUP, XACK, XAUTOCLAIM) names one key and one
hash slot: the streams spread over the cluster's nodes and no command needs keys
of two slots. The leases that say which processor owns a partition live in
PostgreSQL (``order_partitions``), not in Redis, so a cluster fail-over never
decides who writes an account.

An order engine on the cluster bus takes intents of accounts in every partition;
every one becomes an order, nothing stays pending in any stream's group, and the
streams sit on more than one node.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select

from shared.contracts import (
    GROUP_ORDER_PROCESSOR,
    ORDER_PARTITIONS,
    ORDER_STREAMS,
    OrderIntent,
    OrderType,
    Side,
    intent_stream,
    order_partition,
)
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import processor_env
from tests.shared.test_bus import redis_cluster  # noqa: F401 - the three-node cluster fixture

pytestmark = pytest.mark.service

ACCOUNTS = 2 * ORDER_PARTITIONS
PER_ACCOUNT = 5


async def test_partition_streams_on_a_redis_cluster(redis_cluster, request, tmp_path):  # noqa: F811
    from order_processor.config import ProcessorOptions
    from shared.bus.redis import RedisEventBus
    from shared.db import transaction
    from shared.models import BrokerAccount, Order, User, UserRiskLimits
    from shared.redis_client import create_redis

    nodes = redis_cluster
    client = create_redis(
        host=nodes[0].host,
        port=nodes[0].port,
        cluster_mode=True,
        cluster_nodes=[f"{n.host}:{n.port}" for n in nodes],
    )
    bus = RedisEventBus(client, owns_client=True)
    settings = settings_for("postgres", request, tmp_path)
    options = ProcessorOptions(read_block_ms=50, claim_every_s=0.5)
    async with processor_env(settings, bus=bus, options=options) as env:
        async with transaction(env.sessions) as session:
            users = (
                await session.scalars(
                    insert(User).returning(User.id, sort_by_parameter_order=True),
                    [{"email": f"c{n}@example.com", "password_hash": "-"} for n in range(ACCOUNTS)],
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
                            "starting_capital": Decimal(1_000_000),
                            "currency": "USDT",
                        }
                        for u in users
                    ],
                )
            ).all()
            await session.execute(
                insert(UserRiskLimits),
                [{"user_id": u, "limits": {"check_order": ["kill_switch"]}} for u in users],
            )
        pairs = list(zip(users, accounts, strict=True))
        assert {order_partition(a) for _, a in pairs} == set(range(ORDER_PARTITIONS))
        now = datetime.now(UTC)
        for n in range(PER_ACCOUNT):
            for user_id, account_id in pairs:
                intent = OrderIntent(
                    client_order_id=f"c-{account_id}-{n}",
                    user_id=user_id,
                    broker_account_id=account_id,
                    symbol="SOLUSDT",
                    side=Side.BUY,
                    quantity=Decimal(1),
                    order_type=OrderType.LIMIT,
                    limit_price=Decimal(90),
                    created_at=now,
                )
                await bus.append(intent_stream(account_id), intent)

        deadline = time.monotonic() + 60
        while True:
            async with env.sessions() as session:
                stored = await session.scalar(
                    select(func.count()).select_from(Order).where(Order.status == "OPEN")
                )
            pending = sum(
                [await bus.pending_count(s, GROUP_ORDER_PROCESSOR) for s in ORDER_STREAMS]
            )
            if stored == ACCOUNTS * PER_ACCOUNT and pending == 0:
                break
            assert time.monotonic() < deadline, (stored, pending)
            await asyncio.sleep(0.1)

        homes = {s: client.get_node_from_key(s) for s in ORDER_STREAMS}
        ports = {node.port for node in homes.values()}
        lengths = [await client.xlen(s) for s in ORDER_STREAMS]
    assert len(ports) >= 2, f"all partition streams on one node: {ports}"
    assert sum(lengths) == ACCOUNTS * PER_ACCOUNT
    print(
        f"\n{ORDER_PARTITIONS} partition streams over {len(ports)} cluster nodes "
        f"({sorted(ports)}); {ACCOUNTS * PER_ACCOUNT} intents decided, 0 pending"
    )
