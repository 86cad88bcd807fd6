from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from order_processor.domain.paper import (
    DuplicateOrder,
    FillModel,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
    PaperMatcher,
    UnknownOrder,
)
from shared.contracts import OrderStatus, OrderType, Product, Side, Validity

from .factories import BTC, INFY, ist, submitted

T0 = ist(10)


def matcher(**model):
    return PaperMatcher({"INFY": INFY, "BTCUSDT": BTC}.__getitem__, FillModel(**model))


def accepted(m, **order):
    events = m.submit(submitted(**order), T0)
    assert isinstance(events[0], OrderAccepted)
    return events[0].order


def fills(events):
    return [e.fill for e in events if isinstance(e, OrderFilled)]


def test_accepted_order_is_open():
    m = matcher()

    order = accepted(m)

    assert order.status is OrderStatus.OPEN
    assert m.get(order.key) == order


def test_invalid_order_is_rejected_with_the_validation_code():
    m = matcher()

    events = m.submit(submitted(order_type=OrderType.LIMIT, limit_price=Decimal("1000.01")), T0)

    assert isinstance(events[0], OrderRejected)
    assert (events[0].order.status, events[0].code) == (OrderStatus.REJECTED, "price_off_tick")
    assert len(m) == 0


def test_order_outside_the_session_is_rejected():
    events = matcher().submit(submitted(created_at=ist(8)), ist(8))

    assert events[0].order.reason_code == "market_closed"


def test_a_closed_market_rejection_names_the_next_open_in_the_exchange_local_time():
    events = matcher().submit(submitted(created_at=ist(8)), ist(8))

    assert events[0].order.reason == (
        f"NSE is closed (before the session); it opens {T0:%a %d %b} 09:15 IST"  # T0: IST
    )


def test_same_key_twice_is_refused():
    m = matcher()
    accepted(m)

    with pytest.raises(DuplicateOrder):
        m.submit(submitted(), T0)


def test_pending_order_cannot_be_sent():
    m = matcher()

    with pytest.raises(ValueError, match="SUBMITTED"):
        m.submit(submitted().with_status(OrderStatus.OPEN, T0), T0)


def test_market_order_fills_on_the_next_tick_not_the_current_one():
    m = matcher()
    accepted(m)

    same_time = m.on_tick("INFY", T0, 1000.0)
    later = m.on_tick("INFY", T0 + timedelta(seconds=1), 1001.0)

    assert fills(same_time) == []
    [fill] = fills(later)
    assert (fill.quantity, fill.price, fill.seq) == (Decimal(10), Decimal(1001), 1)
    assert later[-1].order.status is OrderStatus.FILLED
    assert len(m) == 0


def test_market_fill_carries_slippage():
    m = matcher(slippage_bps=Decimal(10))
    accepted(m, side=Side.SELL)

    [fill] = fills(m.on_tick("INFY", T0 + timedelta(seconds=1), 1000.0))

    assert fill.price == Decimal("999.00")


def test_ticks_of_other_symbols_do_not_fill():
    m = matcher()
    accepted(m)

    assert m.on_tick("TCS", T0 + timedelta(seconds=1), 3000.0) == []


def test_buy_limit_rests_until_the_price_comes_down():
    m = matcher()
    accepted(m, order_type=OrderType.LIMIT, limit_price=Decimal(995))

    before = m.on_tick("INFY", T0 + timedelta(seconds=1), 996.0)
    after = m.on_tick("INFY", T0 + timedelta(seconds=2), 994.0)

    assert before == []
    assert [f.price for f in fills(after)] == [Decimal(994)]


def test_sell_limit_fills_at_the_limit_when_touched():
    m = matcher()
    accepted(m, side=Side.SELL, order_type=OrderType.LIMIT, limit_price=Decimal(1005))

    events = m.on_tick("INFY", T0 + timedelta(seconds=1), 1005.0)

    assert [f.price for f in fills(events)] == [Decimal(1005)]


def test_stop_limit_triggers_then_fills_as_a_limit():
    m = matcher()
    accepted(m, order_type=OrderType.SL, trigger_price=Decimal(1010), limit_price=Decimal(1012))

    quiet = m.on_tick("INFY", T0 + timedelta(seconds=1), 1009.0)
    gap = m.on_tick("INFY", T0 + timedelta(seconds=2), 1013.0)
    back = m.on_tick("INFY", T0 + timedelta(seconds=3), 1011.0)

    assert quiet == []
    assert [type(e) for e in gap] == [OrderTriggered]  # triggered above the limit: rests
    assert gap[0].order.triggered_at == T0 + timedelta(seconds=2)
    assert [f.price for f in fills(back)] == [Decimal(1011)]


def test_stop_market_fills_on_the_triggering_tick_with_slippage():
    m = matcher(slippage_bps=Decimal(10))
    accepted(m, side=Side.SELL, order_type=OrderType.SL_M, trigger_price=Decimal(990))

    events = m.on_tick("INFY", T0 + timedelta(seconds=1), 989.0)

    assert [type(e) for e in events] == [OrderTriggered, OrderFilled]
    assert fills(events)[0].price == Decimal("988.00")  # 989 x 0.999 = 988.011 -> down to 988.00


def test_ioc_that_does_not_cross_expires_on_the_next_tick():
    m = matcher()
    accepted(m, order_type=OrderType.LIMIT, limit_price=Decimal(990), validity=Validity.IOC)

    events = m.on_tick("INFY", T0 + timedelta(seconds=1), 1000.0)

    assert [type(e) for e in events] == [OrderExpired]
    assert (events[0].reason, events[0].order.status) == ("ioc_unfilled", OrderStatus.EXPIRED)
    assert len(m) == 0


def test_ioc_rest_expires_after_a_partial_fill():
    m = matcher(participation=Decimal("0.5"))
    accepted(m, validity=Validity.IOC)

    events = m.on_tick("INFY", T0 + timedelta(seconds=1), 1000.0, 8.0)

    assert [type(e) for e in events] == [OrderFilled, OrderExpired]
    assert events[0].fill.quantity == 4
    assert events[1].order.filled_quantity == 4


def test_participation_splits_a_tick_between_orders_in_time_priority():
    m = matcher(participation=Decimal("0.5"))
    accepted(m, client_order_id="first", quantity=Decimal(6))
    accepted(m, client_order_id="second", quantity=Decimal(6))

    events = m.on_tick("INFY", T0 + timedelta(seconds=1), 1000.0, 20.0)

    assert [(f.client_order_id, f.quantity) for f in fills(events)] == [("first", 6), ("second", 4)]
    assert m.get((1, "second")).status is OrderStatus.PARTIALLY_FILLED


def test_partial_fills_round_down_to_the_lot_size():
    m = matcher(participation=Decimal("0.1"))
    accepted(m, symbol="BTCUSDT", quantity=Decimal("1"))

    [fill] = fills(m.on_tick("BTCUSDT", T0 + timedelta(seconds=1), 60000.0, 0.12345))

    assert fill.quantity == Decimal("0.012")


def test_successive_fills_are_numbered_and_carry_earlier_turnover():
    m = matcher(participation=Decimal(1))
    accepted(m)

    first = fills(m.on_tick("INFY", T0 + timedelta(seconds=1), 1000.0, 4.0))[0]
    second = fills(m.on_tick("INFY", T0 + timedelta(seconds=2), 1002.0, 100.0))[0]

    assert (first.seq, second.seq) == (1, 2)
    assert second.order_turnover_before == Decimal(4000)
    assert second.quantity == 6


def test_cancel_removes_a_working_order():
    m = matcher()
    order = accepted(m, order_type=OrderType.LIMIT, limit_price=Decimal(900))

    [event] = m.cancel(order.key, T0 + timedelta(seconds=5))

    assert isinstance(event, OrderCancelled)
    assert event.order.status is OrderStatus.CANCELLED
    assert m.on_tick("INFY", T0 + timedelta(seconds=6), 800.0) == []


def test_cancel_of_an_unknown_order_raises():
    with pytest.raises(UnknownOrder):
        matcher().cancel((1, "nope"), T0)


def test_reloaded_orders_keep_matching_after_a_restart():
    first = matcher()
    accepted(first, order_type=OrderType.SL, trigger_price=Decimal(1010), limit_price=Decimal(1012))
    first.on_tick("INFY", T0 + timedelta(seconds=1), 1013.0)  # triggers, rests
    stored = first.working()

    second = matcher()
    second.load(stored)
    events = second.on_tick("INFY", T0 + timedelta(seconds=2), 1012.0)

    assert [type(e) for e in events] == [OrderFilled]  # no second trigger


def test_reloaded_partial_order_continues_its_fill_numbering():
    order = replace(
        submitted(),
        status=OrderStatus.PARTIALLY_FILLED,
        filled_quantity=Decimal(4),
        filled_value=Decimal(4000),
        fill_count=1,
    )
    m = matcher()
    m.load([order])

    [fill] = fills(m.on_tick("INFY", T0 + timedelta(seconds=1), 1000.0))

    assert (fill.seq, fill.quantity, fill.order_turnover_before) == (2, 6, Decimal(4000))


def test_only_working_orders_can_be_loaded():
    with pytest.raises(ValueError, match="working"):
        matcher().load([submitted()])


def test_mis_and_cnc_orders_are_matched_alike():
    m = matcher()
    accepted(m, client_order_id="mis", product=Product.MIS)
    accepted(m, client_order_id="cnc", product=Product.CNC)

    events = m.on_tick("INFY", T0 + timedelta(seconds=1), 1000.0)

    assert {f.product for f in fills(events)} == {Product.MIS, Product.CNC}


def test_tick_fills_exactly_the_limit_orders_it_crosses_in_time_priority():
    m = matcher()
    book = [
        ("b1", Side.BUY, 1001),
        ("s1", Side.SELL, 999),
        ("b2", Side.BUY, 999),
        ("s2", Side.SELL, 1001),
        ("b3", Side.BUY, 1000),
        ("s3", Side.SELL, 1000),
    ]
    for coid, side, price in book:
        accepted(
            m,
            client_order_id=coid,
            side=side,
            order_type=OrderType.LIMIT,
            limit_price=Decimal(price),
        )

    events = m.on_tick("INFY", T0 + timedelta(seconds=1), 1000.0)

    assert [f.client_order_id for f in fills(events)] == ["b1", "s1", "b3", "s3"]
    assert [o.client_order_id for o in m.working()] == ["b2", "s2"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([Side.BUY, Side.SELL]),
            st.sampled_from([OrderType.LIMIT, OrderType.SL_M]),
            st.integers(980, 1020),
        ),
        min_size=1,
        max_size=25,
    ),
    st.integers(980, 1020),
)
def test_indexed_book_fills_the_same_orders_as_checking_each_one(orders, tick):
    m = matcher()
    for i, (side, kind, price) in enumerate(orders):
        price_field = "limit_price" if kind is OrderType.LIMIT else "trigger_price"
        accepted(
            m, client_order_id=f"o{i}", side=side, order_type=kind, **{price_field: Decimal(price)}
        )

    events = m.on_tick("INFY", T0 + timedelta(seconds=1), float(tick))

    def crosses(side, kind, price):
        if kind is OrderType.LIMIT:
            return tick <= price if side is Side.BUY else tick >= price
        return tick >= price if side is Side.BUY else tick <= price

    expected = [f"o{i}" for i, o in enumerate(orders) if crosses(*o)]
    assert [f.client_order_id for f in fills(events)] == expected


def test_loading_an_order_already_at_the_broker_is_refused():
    m = matcher()
    order = accepted(m)

    with pytest.raises(DuplicateOrder):
        m.load([order])
