from datetime import UTC, datetime, timedelta
from decimal import Decimal

from order_processor.domain.paper import FillModel, MisSquareOff, OrderExpired, PaperMatcher
from order_processor.domain.positions import Position
from shared.contracts import OrderStatus, OrderType, Product, Side

from .factories import ALWAYS_OPEN, BTC, INFY, NEXT_TRADING_DAY, ist, submitted

T0 = ist(10)


def matcher():
    return PaperMatcher({"INFY": INFY, "BTCUSDT": BTC}.__getitem__, FillModel())


def rest(m, **order):
    limit = Decimal(900) if order.get("side", Side.BUY) is Side.BUY else Decimal(1100)
    m.submit(submitted(order_type=OrderType.LIMIT, limit_price=limit, **order), T0)


def test_day_order_expires_at_the_session_close():
    m = matcher()
    rest(m, product=Product.CNC)

    before = m.advance(ist(15, 29, 59))
    at_close = m.advance(ist(15, 30))

    assert before == []
    [event] = at_close
    assert isinstance(event, OrderExpired)
    assert (event.reason, event.order.status, event.ts) == (
        "session_end",
        OrderStatus.EXPIRED,
        ist(15, 30),
    )


def test_expiry_is_stamped_with_its_due_time_when_noticed_later():
    m = matcher()
    rest(m, product=Product.CNC)

    [event] = m.on_tick("INFY", ist(9, 20, day=NEXT_TRADING_DAY), 850.0)

    assert event.ts == ist(15, 30)
    assert event.order.updated_at == ist(15, 30)


def test_working_mis_order_lapses_at_square_off_time():
    m = matcher()
    rest(m, product=Product.MIS)

    [event] = m.advance(ist(15, 20))

    assert event.reason == "mis_square_off"


def test_mis_order_placed_after_square_off_time_lives_to_the_close():
    m = matcher()
    m.submit(submitted(product=Product.MIS, side=Side.SELL, created_at=ist(15, 21)), ist(15, 21))

    events = m.on_tick("INFY", ist(15, 21, 1), 1000.0)

    assert events[-1].order.status is OrderStatus.FILLED


def test_crypto_day_order_expires_at_utc_midnight():
    m = matcher()
    start = datetime(2025, 6, 14, 22, tzinfo=UTC)  # a Saturday: crypto trades
    m.submit(
        submitted(
            symbol="BTCUSDT",
            quantity=Decimal(1),
            order_type=OrderType.LIMIT,
            limit_price=Decimal(1),
            created_at=start,
        ),
        start,
    )

    [event] = m.advance(datetime(2025, 6, 15, tzinfo=UTC))

    assert event.reason == "session_end"


def test_ticks_outside_the_session_fill_nothing():
    early = submitted(created_at=ist(9)).with_status(
        OrderStatus.OPEN, ist(9)
    )  # e.g. placed pre-open
    m = matcher()
    m.load([early])

    pre_open = m.on_tick("INFY", ist(9, 10), 1000.0)
    in_session = m.on_tick("INFY", ist(9, 15, 1), 1000.0)

    assert pre_open == []
    assert in_session[-1].order.status is OrderStatus.FILLED


def test_square_off_is_due_from_1520_until_the_close():
    square_off = MisSquareOff()

    assert not square_off.is_due(ist(15, 19, 59))
    assert square_off.is_due(ist(15, 20))
    assert square_off.is_due(ist(15, 29, 59))
    assert not square_off.is_due(ist(15, 30))


def test_square_off_is_never_due_on_a_24x7_calendar():
    assert not MisSquareOff(ALWAYS_OPEN).is_due(datetime(2025, 6, 10, 9, 50, tzinfo=UTC))


def test_square_off_closes_each_open_intraday_position_with_a_market_order():
    positions = [
        Position("INFY", Product.MIS, Decimal(10), Decimal(10_000)),
        Position("TCS", Product.MIS, Decimal(-5), Decimal(-15_000)),
        Position("SBIN", Product.CNC, Decimal(20), Decimal(16_000)),
        Position("HDFCBANK", Product.MIS),
    ]

    orders = MisSquareOff().orders(positions, user_id=1, broker_account_id=10, ts=ist(15, 20))

    assert [(o.symbol, o.side, o.quantity) for o in orders] == [
        ("INFY", Side.SELL, Decimal(10)),
        ("TCS", Side.BUY, Decimal(5)),
    ]
    assert all(o.order_type is OrderType.MARKET and o.origin == "system" for o in orders)


def test_square_off_ids_repeat_within_a_day_so_it_cannot_run_twice():
    positions = [Position("INFY", Product.MIS, Decimal(10), Decimal(10_000))]
    square_off = MisSquareOff()

    first = square_off.orders(positions, user_id=1, broker_account_id=10, ts=ist(15, 20))
    again = square_off.orders(positions, user_id=1, broker_account_id=10, ts=ist(15, 21))

    assert first[0].client_order_id == again[0].client_order_id


def test_no_square_off_orders_before_the_time():
    positions = [Position("INFY", Product.MIS, Decimal(10), Decimal(10_000))]

    assert MisSquareOff().orders(positions, user_id=1, broker_account_id=10, ts=ist(15, 19)) == []


def test_square_off_order_fills_on_the_next_tick():
    m = matcher()
    [order] = MisSquareOff().orders(
        [Position("INFY", Product.MIS, Decimal(10), Decimal(10_000))],
        user_id=1,
        broker_account_id=10,
        ts=ist(15, 20),
    )
    m.submit(order.with_status(OrderStatus.SUBMITTED, ist(15, 20)), ist(15, 20))

    events = m.on_tick("INFY", ist(15, 20) + timedelta(milliseconds=300), 1003.0)

    assert (events[-1].fill.side, events[-1].fill.price) == (Side.SELL, Decimal(1003))
