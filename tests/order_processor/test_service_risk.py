"""Risk limits and the kill switch under concurrency and outages, on the real servers."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from order_processor.catalog import default_catalog
from order_processor.config import ProcessorOptions
from order_processor.killswitch import KillSwitch
from order_processor.service import OrderService
from shared.bus.redis import RedisEventBus
from shared.db import transaction
from shared.models import UserRiskLimits
from shared.redis_client import create_redis
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import R, processor_env, trading_api
from tests.servers import MissingBinaryError, RedisServer

pytestmark = pytest.mark.service


@pytest.mark.parametrize("backend", ["postgres", "pgbouncer"])
async def test_parallel_orders_never_take_exposure_past_the_limit(backend, request, tmp_path):
    # 50 buys of 20 SOLUSDT at 150 (3,000 each) against a 20,000 cap (20% of 100,000):
    # each alone is within the limit, together they are 7.5 times over it.
    settings = settings_for(backend, request, tmp_path, db_pool_size=10, db_max_overflow=10)
    async with trading_api(settings, options=ProcessorOptions(read_block_ms=20)) as api:
        trader = await api.trader()
        account = await api.account(trader, capital="100000")
        await api.set_limits(
            trader.id,
            max_position_size="0.20",
            disabled_checks=["order_rate", "duplicate_position"],
        )
        await api.tick("SOLUSDT", 150.0)

        responses = await asyncio.gather(
            *(
                api.place(trader, account, order_type="LIMIT", limit_price="150", quantity="20")
                for _ in range(50)
            )
        )
        orders = await _decided(api, trader, [r.json()["id"] for r in responses])

    assert {r.status_code for r in responses} == {201}
    accepted = [o for o in orders if o["status"] != "DENIED"]
    exposure = sum(Decimal(o["quantity"]) * Decimal(o["limit_price"]) for o in accepted)
    assert exposure <= Decimal(20000)
    assert len(accepted) == 6
    assert {o["reason_code"] for o in orders if o["status"] == "DENIED"} == {"max_position_size"}


async def _decided(api, trader, ids):
    """The orders once none is PENDING or SUBMITTED any more."""
    for _ in range(500):
        orders = [
            (await api.client.get(f"{R}/orders/{i}", headers=trader.headers)).json() for i in ids
        ]
        if all(o["status"] not in ("PENDING", "SUBMITTED") for o in orders):
            return orders
        await asyncio.sleep(0.05)
    raise AssertionError("orders were not all decided")


@pytest.fixture
def own_redis():
    """A Redis of this test's own, since the test stops it."""
    try:
        server = RedisServer()
    except MissingBinaryError as exc:
        pytest.skip(str(exc))
    with server:
        yield server


async def test_halt_holds_while_redis_is_down(request, tmp_path, own_redis):
    settings = settings_for("postgres", request, tmp_path)
    client = create_redis(host=own_redis.host, port=own_redis.port, retries=1, socket_timeout=1)
    bus = RedisEventBus(client, owns_client=True, write_deadline=0.5)
    options = ProcessorOptions(read_block_ms=20, pending_after_s=0)
    async with processor_env(settings, bus=bus, options=options) as env:
        user, account = await env.account()
        await env.tick("SOLUSDT", 150)
        queued = env.intent(user, account)
        async with transaction(env.sessions) as session:
            await OrderService(
                session, user, now=env.clock.now(), catalog=default_catalog()
            ).accept(queued)
            await KillSwitch(
                session, actor_id=user, now=env.clock.now(), catalog=default_catalog()
            ).halt(user, "panic")
        own_redis.stop()
        try:
            fresh = await env.place(user, account)
            await env.engine.sweep()
            after_queue = await env.order_by_key(user, queued.client_order_id)
        finally:
            own_redis.start()

    assert (fresh.status, fresh.reason_code) == ("DENIED", "halted_user")
    assert (after_queue.status, after_queue.reason_code) == ("DENIED", "halted_user")


async def test_limits_are_read_per_user(request, tmp_path):
    settings = settings_for("postgres", request, tmp_path)
    async with processor_env(settings) as env:
        strict, strict_account = await env.account()
        loose, loose_account = await env.account()
        async with transaction(env.sessions) as session:
            session.add(UserRiskLimits(user_id=strict, limits={"max_position_size": "0.001"}))
        await env.tick("SOLUSDT", 150)

        denied = await env.place(strict, strict_account)
        allowed = await env.place(loose, loose_account)

    assert (denied.status, denied.reason_code) == ("DENIED", "max_position_size")
    assert allowed.status == "OPEN"
