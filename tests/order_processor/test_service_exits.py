"""Exits on a real engine: typed close intents sized under the account lock, never flipping."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from order_processor.brokers import PaperBroker
from order_processor.catalog import default_catalog
from order_processor.config import ProcessorOptions
from order_processor.domain.paper import FillModel
from order_processor.repositories import PositionRepository
from order_processor.service import NothingToClose, OrderService
from shared.contracts import Product
from shared.db import transaction
from shared.models import UserRiskLimits
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import processor_env

NO_LIMITS = {
    "disabled_checks": [
        "order_rate",
        "duplicate_position",
        "max_position_size",
        "sector_concentration",
        "capital_reserve",
        "max_open_positions",
    ]
}
EXIT = {"side": None, "quantity": None, "purpose": "close"}


@pytest.fixture(scope="module")
def settings(request, tmp_path_factory):
    return settings_for("sqlite", request, tmp_path_factory.mktemp("exits"))


@pytest.fixture(scope="module")
async def env(settings):
    async with processor_env(settings, options=ProcessorOptions(read_block_ms=20)) as built:
        yield built


@pytest.fixture
async def slow_env(request, tmp_path):
    """An engine whose paper broker fills 4 units a tick (each tick reports 100)."""

    def partial(paper):
        return PaperBroker(default_catalog(), paper.clock, FillModel(participation=Decimal("0.04")))

    options = ProcessorOptions(read_block_ms=20)
    settings = settings_for("sqlite", request, tmp_path)  # its own: the only engine there
    async with processor_env(settings, wrap=partial, options=options) as built:
        yield built


async def _trader(env, capital="200000"):
    user, account = await env.account(capital=capital)
    async with transaction(env.sessions) as session:
        await session.merge(UserRiskLimits(user_id=user, limits=NO_LIMITS))
    return user, account


async def _position(env, user, account, symbol="SOLUSDT"):
    async with env.sessions() as session:
        row = await PositionRepository(session, user).for_key(account, symbol, "MIS")
    return row.quantity if row is not None else Decimal(0)


async def _long(env, user, account, quantity, price=150):
    await env.tick("SOLUSDT", price)
    await env.place(user, account, quantity=Decimal(quantity))
    await env.tick("SOLUSDT", price)
    assert await _position(env, user, account) == Decimal(quantity)


# -- the reported case: BUY 332.867 SOL, then the strategy's exit --------------------------


async def test_strategy_exit_closes_exactly_the_sol_bought(env):
    user, account = await _trader(env)
    await _long(env, user, account, "332.867", price="150.21")

    order = await env.place(
        user, account, origin="subscription", subscription_id=7, algo_tag="ma_crossover", **EXIT
    )
    await env.tick("SOLUSDT", "149.94")

    assert (order.side, order.quantity, order.algo_tag) == (
        "SELL",
        Decimal("332.867"),
        "exit:ma_crossover",
    )
    assert await _position(env, user, account) == 0


async def test_strategy_sell_against_its_long_closes_it_instead_of_sizing_afresh(env):
    user, account = await _trader(env)
    await _long(env, user, account, "332.867", price="150.21")

    order = await env.place(
        user,
        account,
        side="SELL",
        quantity=Decimal("333.466"),  # what the sizing rule made of the SELL signal
        origin="subscription",
        subscription_id=7,
        algo_tag="ma_crossover",
    )
    await env.tick("SOLUSDT", "149.94")

    assert (order.side, order.quantity, order.algo_tag) == (
        "SELL",
        Decimal("332.867"),
        "exit:ma_crossover",
    )
    assert await _position(env, user, account) == 0


async def test_strategy_sell_when_flat_still_opens_a_short(env):
    user, account = await _trader(env)
    await env.tick("SOLUSDT", 150)

    order = await env.place(
        user, account, side="SELL", quantity=Decimal(2), origin="subscription", algo_tag="x"
    )
    await env.tick("SOLUSDT", 150)

    assert (order.side, order.quantity, order.algo_tag) == ("SELL", Decimal(2), "x")
    assert await _position(env, user, account) == -2


# -- two exits of one position ---------------------------------------------------------------


async def test_second_exit_decided_while_the_first_works_closes_nothing(env):
    user, account = await _trader(env)
    await _long(env, user, account, 10)

    first = await env.place(user, account, **EXIT)
    second = await env.place(user, account, **EXIT)
    await env.tick("SOLUSDT", 150)

    assert (first.side, first.quantity, first.status) == ("SELL", Decimal(10), "OPEN")
    assert (second.status, second.reason_code) == ("DENIED", "nothing_to_exit")
    assert await _position(env, user, account) == 0


async def test_concurrent_exits_of_one_position_never_flip_it(env):
    user, account = await _trader(env)
    await _long(env, user, account, 10)
    intents = [env.intent(user, account, **EXIT) for _ in range(4)]

    await asyncio.gather(*(env.engine.handle_intent(i) for i in intents))
    await env.tick("SOLUSDT", 150)

    orders = [await env.order_by_key(user, i.client_order_id) for i in intents]
    assert sum(o.quantity for o in orders if o.status != "DENIED") == 10
    assert await _position(env, user, account) == 0


async def test_exit_after_a_partial_fill_of_the_first_never_flips(slow_env):
    env = slow_env
    user, account = await _trader(env)
    await env.tick("SOLUSDT", 150)
    await env.place(user, account, quantity=Decimal(8))
    await env.tick("SOLUSDT", 150)
    await env.tick("SOLUSDT", 150)
    assert await _position(env, user, account) == 8

    first = await env.place(user, account, **EXIT)
    await env.tick("SOLUSDT", 150)  # 4 of the first exit's 8 fill
    assert await _position(env, user, account) == 4
    second = await env.place(user, account, **EXIT)
    for _ in range(3):
        await env.tick("SOLUSDT", 150)

    assert first.quantity == 8
    assert (second.status, second.reason_code) == ("DENIED", "nothing_to_exit")
    assert await _position(env, user, account) == 0


async def test_exit_capped_by_a_maximum_closes_only_that_much(env):
    user, account = await _trader(env)
    await _long(env, user, account, 10)

    order = await env.place(user, account, side=None, quantity=Decimal(3), purpose="close")
    await env.tick("SOLUSDT", 150)

    assert (order.side, order.quantity) == ("SELL", Decimal(3))
    assert await _position(env, user, account) == 7


# -- the close-position use case ---------------------------------------------------------------


async def _close(env, user, account, **kwargs):
    async with transaction(env.sessions) as session:
        service = OrderService(session, user, now=env.clock.now(), catalog=env.engine.catalog)
        return await service.close_position(account, "SOLUSDT", Product.MIS, **kwargs)


async def test_close_position_stores_the_exit_and_its_intent_closes_the_position(env):
    user, account = await _trader(env)
    await _long(env, user, account, 6)

    row, intent, created = await _close(env, user, account)
    await env.engine.handle_intent(intent)
    await env.tick("SOLUSDT", 151)

    assert created and intent.purpose == "close"
    assert (row.side, row.quantity, row.status) == ("SELL", Decimal(6), "PENDING")
    assert await _position(env, user, account) == 0


async def test_close_position_when_flat_is_refused(env):
    user, account = await _trader(env)

    with pytest.raises(NothingToClose):
        await _close(env, user, account)


async def test_pending_close_whose_position_another_exit_took_is_denied(env):
    user, account = await _trader(env)
    await _long(env, user, account, 5)
    row, _, _ = await _close(env, user, account)  # PENDING, not yet decided

    await env.place(user, account, **EXIT)  # decided first: SELL 5 working
    await env.engine.processor.process(user, row.id)
    await env.tick("SOLUSDT", 150)

    decided = await env.order(user, row.id)
    assert (decided.status, decided.reason_code) == ("DENIED", "nothing_to_exit")
    assert await _position(env, user, account) == 0


async def test_open_intent_may_not_use_the_exit_tag(env):
    from order_processor.service import OrderService as Service
    from shared.errors import Unprocessable

    user, account = await _trader(env)
    intent = env.intent(user, account, algo_tag="exit:sneaky")

    async with transaction(env.sessions) as session:
        service = Service(session, user, now=env.clock.now(), catalog=env.engine.catalog)
        with pytest.raises(Unprocessable):
            await service.accept(intent)
