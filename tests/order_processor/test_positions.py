from decimal import Decimal

from order_processor.domain.fills import Fill
from order_processor.domain.positions import Position, PositionBook
from shared.contracts import Product, Side

from .factories import ist


def D(v):
    return Decimal(v)


def flat():
    return Position("INFY", Product.MIS)


def test_buys_average_their_prices_by_quantity():
    position, _ = flat().apply(D(10), D(100))
    position, realised = position.apply(D(30), D(120))

    assert position.quantity == 40
    assert position.average_price == D(115)  # (1000 + 3600) / 40
    assert realised == 0


def test_partial_sale_realises_against_the_average_and_keeps_it():
    position, _ = flat().apply(D(40), D(115))

    position, realised = position.apply(D(-10), D(130))

    assert realised == D(150)  # 10 x (130 - 115)
    assert (position.quantity, position.average_price) == (D(30), D(115))
    assert position.realised_pnl == D(150)


def test_short_realises_profit_when_bought_back_lower():
    position, _ = flat().apply(D(-20), D(500))

    position, realised = position.apply(D(20), D(480))

    assert realised == D(400)
    assert not position.is_open
    assert position.cost == 0


def test_fill_through_zero_closes_then_opens_the_other_way_at_the_fill_price():
    position, _ = flat().apply(D(10), D(100))

    position, realised = position.apply(D(-25), D(110))

    assert realised == D(100)
    assert (position.quantity, position.average_price) == (D(-15), D(110))


def test_unrealised_pnl_of_a_short_gains_when_price_falls():
    position, _ = flat().apply(D(-10), D(200))

    assert position.unrealised_pnl(D(190)) == D(100)
    assert position.market_value(D(190)) == D(-1900)


def test_average_price_survives_uneven_reductions_exactly_in_total():
    position, _ = flat().apply(D(3), D(100))
    total = D(0)
    for _ in range(3):
        position, realised = position.apply(D(-1), D(101))
        total += realised

    assert total == D(3)  # 3 x (101 - 100) although 100/3 is not exact per unit
    assert position.cost == 0


def test_book_keeps_intraday_and_delivery_positions_apart():
    book = PositionBook()
    for product, qty in ((Product.MIS, 5), (Product.CNC, 7)):
        book.apply_fill(
            Fill(
                user_id=1,
                client_order_id=str(product),
                seq=1,
                symbol="INFY",
                side=Side.BUY,
                product=product,
                quantity=D(qty),
                price=D(100),
                ts=ist(10),
            )
        )

    assert book.get("INFY", Product.MIS).quantity == 5
    assert book.get("INFY", Product.CNC).quantity == 7
    assert book.net_quantity("INFY") == 12
