"""The exposure checks read the working orders through their totals (``WorkingTotals``); the
totals kept up to date order by order give the same answers as walking the list."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from order_processor.domain.orders import Order
from order_processor.domain.risk import AccountView, PositionView, WorkingOrderView, WorkingTotals
from order_processor.domain.risk.projection import (
    exposure_increasing_commitment,
    same_side_working,
)
from shared.contracts import Side

from .factories import INFY

SYMBOLS = ["RELIANCE", "TCS", "INFY"]
NOW = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)

decimals = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(5000), places=2)
working = st.builds(
    WorkingOrderView,
    symbol=st.sampled_from(SYMBOLS),
    side=st.sampled_from(list(Side)),
    quantity=st.decimals(min_value=0, max_value=Decimal(500), places=3),
    price=st.none() | decimals,
)
positions = st.dictionaries(
    st.sampled_from(SYMBOLS),
    st.tuples(st.decimals(min_value=-100, max_value=100, places=0), decimals),
)
marks = st.dictionaries(st.sampled_from(SYMBOLS), decimals)


def _walked_commitment(view: AccountView) -> Decimal:
    total = Decimal(0)
    for w in view.working_orders:
        position = view.position_quantity(w.symbol)
        if position != 0 and (position > 0) != (w.signed_quantity > 0):
            continue
        price = w.price if w.price is not None else view.mark(w.symbol)
        if price is not None:
            total += w.quantity * price
    return total


@settings(max_examples=300, deadline=None)
@given(st.lists(working, max_size=30), positions, marks, st.sampled_from(SYMBOLS))
def test_totals_kept_order_by_order_answer_as_the_walk(orders, held, last, symbol):
    instrument = INFY
    kept = WorkingTotals()
    for w in orders:
        kept.add(w)
    view = AccountView(
        now=NOW,
        equity=Decimal(1_000_000),
        cash=Decimal(1_000_000),
        start_of_day_equity=Decimal(1_000_000),
        start_of_week_equity=Decimal(1_000_000),
        peak_equity=Decimal(1_000_000),
        instrument=instrument,
        calendar=instrument.calendar(),
        positions={s: PositionView(s, q, p) for s, (q, p) in held.items() if q != 0},
        working_orders=tuple(orders),
        working_totals=kept,
        last_price=last.get,
    )
    built = AccountView(**{**_fields(view), "working_totals": None})  # made from the list
    for candidate in (view, built):
        assert exposure_increasing_commitment(candidate) == _walked_commitment(candidate)
        for side in Side:
            order = Order(
                user_id=1,
                broker_account_id=1,
                client_order_id="x",
                symbol=symbol,
                side=side,
                quantity=Decimal(1),
                created_at=NOW,
            )
            walked = sum(
                (w.quantity for w in orders if w.symbol == symbol and w.side is side), Decimal(0)
            )
            assert same_side_working(order, candidate) == walked
            assert candidate.totals.has(symbol, side) == any(
                w.symbol == symbol and w.side is side for w in orders
            )
        assert candidate.totals.symbols() == {w.symbol for w in orders}


def _fields(view: AccountView) -> dict[str, object]:
    return {name: getattr(view, name) for name in AccountView.__dataclass_fields__}
