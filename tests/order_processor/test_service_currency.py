"""One currency per account: the engine refuses or denies orders quoted in another currency."""

from __future__ import annotations

import pytest

from order_processor.catalog import default_catalog
from order_processor.records import request_hash, row_from_intent
from order_processor.repositories import OrderRepository
from order_processor.service import currency_refusal
from shared.db import transaction
from shared.errors import DomainError
from shared.models import BrokerAccount
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import processor_env


@pytest.fixture(scope="module")
async def env(request, tmp_path_factory):
    settings = settings_for("sqlite", request, tmp_path_factory.mktemp("currency"))
    async with processor_env(settings) as built:
        yield built


async def test_strategy_intent_in_another_currency_is_refused_and_stores_nothing(env):
    user, account = await env.account(currency="INR")
    intent = env.intent(user, account, symbol="SOLUSDT", origin="subscription")

    with pytest.raises(DomainError) as refused:
        await env.engine.handle_intent(intent)

    assert refused.value.code == "currency_mismatch"
    assert await env.order_by_key(user, intent.client_order_id) is None


async def test_pending_order_in_another_currency_is_denied_with_currency_mismatch(env):
    # A strategy order stored before accept() checked currencies, decided after an upgrade.
    user, account = await env.account(currency="INR")
    intent = env.intent(user, account, symbol="SOLUSDT", origin="subscription")
    async with transaction(env.sessions) as session:
        row = row_from_intent(intent, request_hash(intent))
        assert await OrderRepository(session, user).insert(row)
        order_id = row.id

    await env.engine.processor.process(user, order_id)

    decided = await env.order(user, order_id)
    assert (decided.status, decided.reason_code) == ("DENIED", "currency_mismatch")
    assert "INR" in decided.reason and "USDT" in decided.reason


@pytest.mark.parametrize(
    "origin,closing,refused",
    [("manual", False, True), ("subscription", True, False), ("system", False, False)],
)
def test_only_orders_that_can_open_a_position_are_held_to_the_account_currency(
    origin, closing, refused
):
    account = BrokerAccount(id=1, currency="INR")

    why = currency_refusal(default_catalog(), account, "BTCUSDT", origin=origin, closing=closing)

    assert (why is not None) == refused
