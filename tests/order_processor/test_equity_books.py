"""EquityBooks: a cached tracker belongs to one account row, never to a later row with its id."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from order_processor.equity import EquityBooks
from shared.models import BrokerAccount
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import processor_env


@pytest.fixture(scope="module")
async def env(request, tmp_path_factory):
    settings = settings_for("sqlite", request, tmp_path_factory.mktemp("equity"))
    async with processor_env(settings) as built:
        yield built


async def _long(env, quantity="2"):
    """A new account holding a filled long SOLUSDT position: (user_id, account row)."""
    user_id, account_id = await env.account()
    await env.tick("SOLUSDT", 150.0)
    order = await env.place(user_id, account_id, quantity=Decimal(quantity))
    await env.tick("SOLUSDT", 150.0)
    assert (await env.order(user_id, order.id)).status == "FILLED"
    async with env.sessions() as session:
        account = await session.get(BrokerAccount, account_id)
    return user_id, account


async def test_tracker_of_an_id_is_not_handed_to_another_row_with_that_id(env):
    _, account = await _long(env)
    other_user, _ = await env.account()
    books = EquityBooks()
    async with env.sessions() as session:
        first = await books.refresh(session, account)
        # What SQLite did before AUTOINCREMENT: another user's new row under the same id.
        successor = BrokerAccount(
            id=account.id,
            user_id=other_user,
            broker="paper",
            label="successor",
            starting_capital=account.starting_capital,
            currency=account.currency,
            created_at=account.created_at + timedelta(seconds=1),
        )

        second = await books.refresh(session, successor)

    assert len(first.book.open_positions()) == 1
    assert second is not first
    assert second.book.open_positions() == []
    assert second.cash == account.starting_capital


async def test_evicted_account_is_rebuilt_from_the_database(env):
    _, account = await _long(env)
    books = EquityBooks()
    async with env.sessions() as session:
        first = await books.refresh(session, account)

        books.evict(account.id)
        gone = account.id not in books
        again = await books.refresh(session, account)

    assert gone
    assert again is not first
    assert again.cash == first.cash
    assert len(again.book.open_positions()) == 1
