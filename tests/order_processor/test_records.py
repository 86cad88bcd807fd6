"""Order rows and domain orders: a row no session tracks takes an order's state the same way
as a tracked one, and a tracked row still records what changed for its UPDATE."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import inspect
from sqlalchemy.orm import Session, configure_mappers

from order_processor.records import apply_to_row, request_hash, row_from_intent, to_domain
from shared.contracts import OrderIntent, OrderStatus, OrderType
from shared.models import Order as OrderRow

from .factories import ist

configure_mappers()

COLUMNS = [c.key for c in OrderRow.__table__.columns if c.key != "id"]


def _row(quantity: Decimal) -> OrderRow:
    intent = OrderIntent(
        client_order_id="rec-1",
        user_id=1,
        broker_account_id=10,
        symbol="INFY",
        side="BUY",
        quantity=quantity,
        order_type=OrderType.LIMIT,
        limit_price=Decimal("1500.5"),
        created_at=ist(10),
    )
    row = row_from_intent(intent, request_hash(intent))
    row.__dict__["id"] = 7  # as if given by the sequence, without marking the row changed
    return row


@given(
    quantity=st.integers(min_value=2, max_value=500).map(Decimal),
    filled=st.integers(min_value=1, max_value=499),
    price=st.decimals(min_value=1, max_value=10_000, places=2),
    final=st.sampled_from([OrderStatus.CANCELLED, OrderStatus.EXPIRED, None]),
)
def test_a_row_outside_a_session_takes_the_same_state_as_a_tracked_row(
    quantity, filled, price, final
):
    free, tracked = _row(quantity), _row(quantity)
    session = Session()
    session.add(tracked)  # tracked: changes go through the mapped attributes
    assert inspect(free).session_id is None and inspect(tracked).session_id is not None

    order = to_domain(free)
    steps = [order.with_status(OrderStatus.SUBMITTED, ist(10, 1))]
    steps.append(steps[-1].with_status(OrderStatus.OPEN, ist(10, 2)))
    part = min(Decimal(filled), quantity - 1)
    steps.append(steps[-1].with_fill(part, price, ist(10, 3)))
    if final is not None:
        steps.append(steps[-1].with_status(final, ist(10, 4), reason_code="why"))
    for step in steps:
        apply_to_row(step, free)
        apply_to_row(step, tracked)
    # The tracked row's changes are recorded for its UPDATE; nothing tracks the free one.
    assert inspect(tracked).modified and not inspect(free).modified

    assert {c: getattr(free, c) for c in COLUMNS} == {c: getattr(tracked, c) for c in COLUMNS}
    assert free.version == 1 + len(steps)
    assert to_domain(free) == steps[-1]
    session.close()
