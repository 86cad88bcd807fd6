import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_processor.domain.orders import (
    InvalidOrder,
    Order,
    _evolve,
    ensure_valid,
    order_from_intent,
    validate_order,
)
from order_processor.domain.states import IllegalTransition
from order_processor.records import enum_member
from shared.contracts import OrderIntent, OrderStatus, OrderType, Product, Side, Validity

from .factories import INFY, ist, make_instrument, make_order, submitted

LOT_50 = make_instrument("NIFTYFUT", lot_size=Decimal(50), tick_size=Decimal("0.05"))


def codes(order, instrument=INFY):
    return [e.code for e in validate_order(order, instrument)]


@pytest.mark.parametrize(
    ("order_type", "limit", "trigger"),
    [
        (OrderType.MARKET, None, None),
        (OrderType.LIMIT, "1000.05", None),
        (OrderType.SL, "1001", "1000"),
        (OrderType.SL_M, None, "1000"),
    ],
)
def test_well_formed_order_of_each_type_is_valid(order_type, limit, trigger):
    order = make_order(
        order_type=order_type,
        limit_price=None if limit is None else Decimal(limit),
        trigger_price=None if trigger is None else Decimal(trigger),
    )

    assert codes(order) == []


@pytest.mark.parametrize(
    ("order_type", "limit", "trigger", "expected"),
    [
        (OrderType.LIMIT, None, None, ["limit_price_required"]),
        (OrderType.SL, None, "1000", ["limit_price_required"]),
        (OrderType.SL, "1000", None, ["trigger_price_required"]),
        (OrderType.SL_M, None, None, ["trigger_price_required"]),
        (OrderType.MARKET, "1000", None, ["limit_price_not_allowed"]),
        (OrderType.MARKET, None, "1000", ["trigger_price_not_allowed"]),
        (OrderType.LIMIT, "1000", "990", ["trigger_price_not_allowed"]),
        (OrderType.SL_M, "1000", "990", ["limit_price_not_allowed"]),
    ],
)
def test_price_fields_must_match_the_order_type(order_type, limit, trigger, expected):
    order = make_order(
        order_type=order_type,
        limit_price=None if limit is None else Decimal(limit),
        trigger_price=None if trigger is None else Decimal(trigger),
    )

    assert codes(order) == expected


def test_limit_price_off_the_tick_grid_is_refused():
    order = make_order(order_type=OrderType.LIMIT, limit_price=Decimal("1000.03"))

    assert codes(order) == ["price_off_tick"]


def test_trigger_price_off_the_tick_grid_is_refused():
    order = make_order(order_type=OrderType.SL_M, trigger_price=Decimal("999.99"))

    assert codes(order) == ["price_off_tick"]


def test_non_positive_price_is_refused():
    order = make_order(order_type=OrderType.LIMIT, limit_price=Decimal(0))

    assert codes(order) == ["price_not_positive"]


@pytest.mark.parametrize("quantity", ["0", "-50"])
def test_quantity_must_be_positive(quantity):
    assert codes(make_order(symbol="NIFTYFUT", quantity=Decimal(quantity)), LOT_50) == [
        "quantity_not_positive"
    ]


def test_quantity_must_be_a_lot_multiple():
    assert codes(make_order(symbol="NIFTYFUT", quantity=Decimal(75)), LOT_50) == [
        "quantity_not_lot_multiple"
    ]


def test_buy_stop_limit_with_trigger_above_limit_is_refused():
    order = make_order(
        order_type=OrderType.SL, limit_price=Decimal(1000), trigger_price=Decimal(1001)
    )

    assert codes(order) == ["trigger_above_limit"]


def test_sell_stop_limit_with_trigger_below_limit_is_refused():
    order = make_order(
        side=Side.SELL,
        order_type=OrderType.SL,
        limit_price=Decimal(1000),
        trigger_price=Decimal(999),
    )

    assert codes(order) == ["trigger_below_limit"]


def test_order_for_another_symbol_is_refused():
    assert codes(make_order(symbol="TCS")) == ["symbol_mismatch"]


def test_ensure_valid_raises_with_every_error_in_details():
    order = make_order(quantity=Decimal(0), order_type=OrderType.LIMIT)

    with pytest.raises(InvalidOrder) as info:
        ensure_valid(order, INFY)

    assert [d["code"] for d in info.value.details] == [
        "quantity_not_positive",
        "limit_price_required",
    ]
    assert info.value.status_code == 422


def test_partial_fill_moves_open_order_to_partially_filled_and_tracks_average():
    order = submitted().with_status(OrderStatus.OPEN, ist(10))

    order = order.with_fill(Decimal(4), Decimal(100), ist(10, 1))
    order = order.with_fill(Decimal(2), Decimal(106), ist(10, 2))

    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.filled_quantity == 6
    assert order.remaining_quantity == 4
    assert order.average_price == Decimal(612) / 6
    assert order.fill_count == 2


def test_last_fill_completes_the_order():
    order = submitted().with_status(OrderStatus.OPEN, ist(10))

    order = order.with_fill(Decimal(10), Decimal(100), ist(10, 1))

    assert order.status is OrderStatus.FILLED
    assert order.is_terminal


def test_fill_larger_than_the_remainder_is_refused():
    order = submitted().with_status(OrderStatus.OPEN, ist(10))

    with pytest.raises(ValueError, match="remaining"):
        order.with_fill(Decimal(11), Decimal(100), ist(10, 1))


def test_fill_of_a_pending_order_is_an_illegal_transition():
    with pytest.raises(IllegalTransition):
        make_order().with_fill(Decimal(1), Decimal(100), ist(10))


def test_denial_keeps_its_reason_code():
    denied = make_order().with_status(
        OrderStatus.DENIED, ist(10), reason_code="daily_loss_limit", reason="loss limit"
    )

    assert (denied.status, denied.reason_code) == (OrderStatus.DENIED, "daily_loss_limit")


def test_submission_stamps_submitted_at():
    order = make_order().with_status(OrderStatus.SUBMITTED, ist(10, 5))

    assert order.submitted_at == ist(10, 5)


def test_order_from_intent_copies_the_intent():
    intent = OrderIntent(
        client_order_id="sig-7",
        user_id=3,
        broker_account_id=9,
        symbol="INFY",
        side=Side.SELL,
        quantity=Decimal(5),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("1500.5"),
        stop=Decimal(1530),
        algo_tag="ema",
        created_at=datetime(2025, 6, 10, 5, tzinfo=UTC),
    )

    order = order_from_intent(intent)

    assert order.key == (3, "sig-7")
    assert (order.side, order.quantity, order.limit_price, order.stop, order.algo_tag) == (
        Side.SELL,
        Decimal(5),
        Decimal("1500.5"),
        Decimal(1530),
        "ema",
    )
    assert order.status is OrderStatus.PENDING
    assert order.origin == "subscription"


# -- the compiled replace ----------------------------------------------------------------

_EVERY_FIELD_SET = Order(
    user_id=7,
    broker_account_id=8,
    client_order_id="other",
    symbol="TCS",
    side=Side.SELL,
    quantity=Decimal(9),
    created_at=datetime(2026, 1, 2, tzinfo=UTC),
    order_type=OrderType.SL,
    limit_price=Decimal("10.5"),
    trigger_price=Decimal("10.6"),
    product=Product.CNC,
    validity=Validity.IOC,
    origin="subscription",
    subscription_id=3,
    algo_tag="tag",
    stop=Decimal("9.5"),
    target=Decimal("12"),
    order_id=11,
    broker_order_id="b-1",
    status=OrderStatus.OPEN,
    filled_quantity=Decimal(2),
    filled_value=Decimal(21),
    fill_count=1,
    reason_code="code",
    reason="why",
    submitted_at=datetime(2026, 1, 3, tzinfo=UTC),
    triggered_at=datetime(2026, 1, 4, tzinfo=UTC),
    updated_at=datetime(2026, 1, 5, tzinfo=UTC),
)


@given(st.sets(st.sampled_from([f.name for f in dataclasses.fields(Order)])))
def test_the_compiled_replace_of_an_order_equals_dataclasses_replace(names):
    base = make_order()
    changes = {name: getattr(_EVERY_FIELD_SET, name) for name in names}

    evolved = _evolve(base, **changes)

    assert evolved == dataclasses.replace(base, **changes)
    assert evolved is not base and base == make_order()


def test_every_field_of_an_order_is_set_in_the_full_example():
    """So that the property above covers every field (a new field must be added there)."""
    defaults = Order(
        user_id=0, broker_account_id=0, client_order_id="", symbol="", side=Side.BUY,
        quantity=Decimal(0), created_at=datetime(2020, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    for f in dataclasses.fields(Order):
        assert getattr(_EVERY_FIELD_SET, f.name) != getattr(defaults, f.name), f.name
    with pytest.raises(TypeError):
        _evolve(_EVERY_FIELD_SET, no_such_field=1)


@pytest.mark.parametrize("kind", [Side, OrderType, Product, Validity, OrderStatus])
def test_enum_members_read_from_rows_are_the_enums_own(kind):
    member = enum_member(kind)
    for m in kind:
        assert member(m.value) is kind(m.value) is m
    with pytest.raises(ValueError):
        member("no such value")
