"""The closing rule: what an exit closes, net of the closing orders already working."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from order_processor.domain.closing import Closing, WorkingQuantity, closing_order
from shared.contracts import Side

quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10_000), places=3)
positions = st.one_of(st.just(Decimal(0)), quantities, quantities.map(lambda q: -q))
working_orders = st.lists(st.builds(WorkingQuantity, st.sampled_from(Side), quantities), max_size=6)
limits = st.one_of(st.none(), quantities)


def _closing_side(position: Decimal) -> Side:
    return Side.SELL if position > 0 else Side.BUY


@given(positions, working_orders, limits)
def test_closing_never_takes_the_position_through_zero(position, working, limit):
    closing = closing_order(position, working, limit)

    if closing is not None:
        side = _closing_side(position)
        covered = sum((w.remaining for w in working if w.side is side), Decimal(0))
        assert closing.side is side
        assert closing.quantity > 0
        assert closing.quantity + covered <= abs(position)


@given(working_orders, limits)
def test_flat_position_has_nothing_to_close(working, limit):
    assert closing_order(Decimal(0), working, limit) is None


@given(positions.filter(bool), working_orders)
def test_exit_closes_exactly_what_no_working_exit_closes(position, working):
    side = _closing_side(position)
    covered = sum((w.remaining for w in working if w.side is side), Decimal(0))

    closing = closing_order(position, working)

    expected = abs(position) - covered
    assert (closing.quantity if closing else Decimal(0)) == max(expected, Decimal(0))


@given(positions.filter(bool), working_orders, quantities)
def test_limit_caps_the_closing_quantity(position, working, limit):
    closing = closing_order(position, working, limit)

    assert closing is None or closing.quantity <= limit


def test_sol_long_closes_exactly_its_quantity():
    assert closing_order(Decimal("332.867"), []) == Closing(Side.SELL, Decimal("332.867"))


def test_entries_on_the_position_side_are_not_counted_as_exits():
    working = [WorkingQuantity(Side.BUY, Decimal(5)), WorkingQuantity(Side.SELL, Decimal(3))]

    assert closing_order(Decimal(10), working) == Closing(Side.SELL, Decimal(7))
