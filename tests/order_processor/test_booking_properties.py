"""Random fills booked by the real ``Booker`` into SQLite agree with the account model.

Each case opens an account, stores its orders as OPEN, and books their fills
through the engine's booker as the paper broker would report them; then the
stored fills, positions and ledger, and ``AccountReader.summary``, are read back.
"""

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import hypothesis
import pytest
from sqlalchemy import select

from order_processor.catalog import default_catalog
from order_processor.domain.account import Account
from order_processor.domain.ledger import EntryKind
from order_processor.domain.paper import OrderFilled
from order_processor.records import request_hash, row_from_intent, to_domain
from order_processor.repositories import LedgerRepository
from order_processor.repositories.batch import BatchQueries
from shared.contracts import OrderStatus
from shared.db import transaction
from shared.models import BrokerAccount, Position
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import processor_env

from .random_fills import Case, PlannedOrder, all_fills, cases, plan

START = Decimal(100_000_000)
_marked = itertools.count()


@pytest.fixture(scope="module")
def settings(request, tmp_path_factory):
    return settings_for("sqlite", request, tmp_path_factory.mktemp("booking"))


@pytest.fixture(scope="module")
async def env(settings):
    async with processor_env(settings, start=False) as built:
        yield built


async def _book(env, user: int, account: int, order: PlannedOrder) -> None:
    """Store ``order`` as OPEN, then book its fills one event at a time."""
    coid = order.fills[0].client_order_id
    intent = env.intent(
        user,
        account,
        client_order_id=coid,
        symbol=order.symbol,
        side=order.side,
        product=order.product,
        quantity=order.quantity,
    )
    async with transaction(env.sessions) as session:
        row = row_from_intent(intent, request_hash(intent))
        row.status = OrderStatus.OPEN.value
        session.add(row)
        await session.flush()
        stored = to_domain(row)
    for fill in order.fills:
        stored = stored.with_fill(fill.quantity, fill.price, fill.ts)
        await env.engine.booker.apply_one(OrderFilled(order=stored, ts=fill.ts, fill=fill))


def _mark(env, case: Case) -> None:
    ts = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(seconds=next(_marked))
    for symbol, price in case.marks.items():
        env.engine.reader.prices.update(symbol, ts, price)


@hypothesis.settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
@hypothesis.given(case=cases(max_steps=12))
async def test_booked_fills_agree_with_the_account_model(env, case):
    user, account = await env.account(capital=str(START), currency=case.currency)
    orders = plan(case, user_id=user, prefix=f"p{account}")
    for order in orders:
        await _book(env, user, account, order)
    _mark(env, case)

    async with env.sessions() as session:
        account_row = await session.get(BrokerAccount, account)
        summary = await env.engine.reader.summary(session, account_row, datetime.now(UTC))
        fills = await BatchQueries(session).fills_after({(user, account): 0})
        ledger = await LedgerRepository(session, user).for_account(account)
        rows = (
            (await session.execute(select(Position).where(Position.broker_account_id == account)))
            .scalars()
            .all()
        )

    planned = all_fills(orders)
    model = Account(START)
    for fill in planned:
        model.trade(fill, default_catalog().fee_model(fill.symbol))

    # Positions: the signed sum of fills per (symbol, product), stored as the model holds them.
    assert len(fills) == len(planned)
    stored = {(r.symbol, r.product): r for r in rows}
    for position in model.positions:
        row = stored[position.symbol, position.product.value]
        expected = sum(
            (f.signed_quantity for f in planned if (f.symbol, f.product) == position.key),
            Decimal(0),
        )
        assert row.quantity == position.quantity == expected
        # A row keeps the average price, not the cost (PostgreSQL to 8 places): near, not equal.
        assert row.average_price == pytest.approx(position.average_price, abs=Decimal("1e-8"))
        assert row.realised_pnl == pytest.approx(position.realised_pnl, abs=Decimal("1e-8"))
    assert len(stored) == len(list(model.positions))

    # Cash: start + flows - charges, which is the stored ledger's sum.
    flows = sum((f.cash_flow for f in planned), Decimal(0))
    charges = sum((f.charges for f in fills), Decimal(0))
    charged = -sum((e.amount for e in ledger if e.kind == EntryKind.CHARGE), Decimal(0))
    assert summary.cash == START + flows - charges == START + sum(e.amount for e in ledger)
    assert summary.charges == charges == charged == model.charges

    # Equity: cash plus marked positions; P&L net of charges is the change in equity.
    marked = sum((r.quantity * case.marks[r.symbol] for r in rows), Decimal(0))
    assert summary.equity == summary.cash + marked
    assert summary.realised_pnl + summary.unrealised_pnl - summary.charges == summary.equity - START
    assert summary.realised_pnl == pytest.approx(
        sum((r.realised_pnl for r in rows), Decimal(0)), abs=Decimal("1e-6")
    )
    assert summary.equity == model.equity(case.marks)
