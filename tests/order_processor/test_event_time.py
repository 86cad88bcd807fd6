"""The order path runs on the injected clock: rows and ids carry event time, not the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from order_processor.config import ProcessorOptions
from order_processor.killswitch import KillSwitch
from shared.clock import EventClock
from shared.models import Position
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import processor_env

START = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)  # long before any test runs


@pytest.fixture
async def env(request, tmp_path):
    settings = settings_for("sqlite", request, tmp_path)
    clock = EventClock(START)
    options = ProcessorOptions(read_block_ms=20, sweep_every_s=3600, resync_every_s=3600)
    async with processor_env(settings, clock=clock, options=options) as built:
        yield built


async def test_orders_and_positions_are_stamped_with_event_time(env):
    user_id, account_id = await env.account()
    await env.tick("SOLUSDT", 150.0)
    placed = await env.place(user_id, account_id, quantity=Decimal(2))
    await env.tick("SOLUSDT", 151.0, after=5.0)

    order = await env.order(user_id, placed.id)
    fill_time = env.clock.now()
    assert order.status == "FILLED"
    assert order.created_at == START + timedelta(seconds=1)
    assert order.updated_at == fill_time
    assert order.version >= 3  # PENDING, decided and placed, filled
    async with env.sessions() as session:
        position = (
            await session.scalars(select(Position).where(Position.broker_account_id == account_id))
        ).one()
    assert position.updated_at == fill_time


async def test_liquidation_keys_come_from_the_clock(env):
    user_id, account_id = await env.account()
    await env.tick("SOLUSDT", 150.0)
    await env.place(user_id, account_id, quantity=Decimal(1))
    await env.tick("SOLUSDT", 150.0)

    async with env.sessions() as session, session.begin():
        switch = KillSwitch(
            session, actor_id=user_id, now=env.clock.now(), catalog=env.engine.catalog
        )
        result = await switch.liquidate(user_id)
    stamp = int(env.clock.now().timestamp() * 1000)
    assert [o.client_order_id.rsplit("-", 1)[-1] for o in result.placed] == [str(stamp)]
