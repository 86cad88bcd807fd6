from dataclasses import replace
from decimal import Decimal

import pytest

from order_processor.domain.risk.exposure import (
    CapitalReserveCheck,
    DuplicatePositionCheck,
    MaxOpenPositionsCheck,
    MaxPositionSizeCheck,
    RiskPerTradeCheck,
    SectorConcentrationCheck,
)
from order_processor.domain.risk.projection import is_risk_reducing
from shared.contracts import OrderType, Side

from .factories import INFY, make_order, make_view, position, working

FIVE_OTHERS = [position(s, 1, 100) for s in ("A", "B", "C", "D", "E")]


# -- what counts as risk-reducing ------------------------------------------


@pytest.mark.parametrize(
    ("held", "side", "qty", "expected"),
    [
        (100, Side.SELL, 40, True),
        (100, Side.SELL, 100, True),
        (100, Side.SELL, 101, False),  # flips to short
        (100, Side.BUY, 1, False),  # adds
        (-100, Side.BUY, 60, True),
        (-100, Side.SELL, 1, False),
        (0, Side.SELL, 1, False),
    ],
)
def test_risk_reducing_means_shrinking_without_flipping(held, side, qty, expected):
    view = make_view(positions=[position("INFY", held, 1000)] if held else [])

    assert is_risk_reducing(make_order(side=side, quantity=Decimal(qty)), view) is expected


# -- max open positions ------------------------------------------------------


def test_sixth_symbol_is_denied_at_five_open_positions():
    decision = MaxOpenPositionsCheck(5).check(make_order(), make_view(positions=FIVE_OTHERS))

    assert decision.code == "max_open_positions"


def test_fifth_symbol_passes():
    view = make_view(positions=FIVE_OTHERS[:4])

    assert MaxOpenPositionsCheck(5).check(make_order(), view).approved


def test_symbols_with_working_orders_count_as_open():
    view = make_view(positions=FIVE_OTHERS[:4], working_orders=[working("F", Side.BUY, 1, 10)])

    assert MaxOpenPositionsCheck(5).check(make_order(), view).code == "max_open_positions"


def test_order_in_an_already_open_symbol_does_not_add_a_position():
    view = make_view(positions=[*FIVE_OTHERS[:4], position("INFY", -5, 1000)])

    assert MaxOpenPositionsCheck(5).check(make_order(), view).approved


def test_risk_reducing_order_passes_position_count():
    view = make_view(positions=[*FIVE_OTHERS, position("INFY", 10, 1000)])

    decision = MaxOpenPositionsCheck(5).check(make_order(side=Side.SELL), view)

    assert (decision.approved, decision.code) == (True, "risk_reducing")


# -- duplicate position ------------------------------------------------------


def test_adding_to_a_long_is_a_duplicate():
    view = make_view(positions=[position("INFY", 10, 1000)])

    assert DuplicatePositionCheck().check(make_order(), view).code == "duplicate_position"


def test_second_working_entry_is_a_duplicate():
    view = make_view(working_orders=[working("INFY", Side.BUY, 10, 990)])

    assert DuplicatePositionCheck().check(make_order(), view).code == "duplicate_position"


def test_first_entry_is_not_a_duplicate():
    view = make_view(positions=[position("TCS", 10, 3000)])

    assert DuplicatePositionCheck().check(make_order(), view).approved


def test_closing_order_is_not_a_duplicate():
    view = make_view(positions=[position("INFY", 10, 1000)])

    assert DuplicatePositionCheck().check(make_order(side=Side.SELL), view).approved


# -- position size -------------------------------------------------------------


def test_position_at_twenty_percent_of_equity_passes():
    order = make_order(quantity=Decimal(20))  # 20 x 1000 = 20% of 1,00,000

    assert MaxPositionSizeCheck(Decimal("0.20")).check(order, make_view()).approved


def test_position_above_twenty_percent_of_equity_is_denied():
    order = make_order(quantity=Decimal(21))

    assert MaxPositionSizeCheck(Decimal("0.20")).check(order, make_view()).code == (
        "max_position_size"
    )


def test_position_size_counts_the_existing_position_and_working_orders():
    view = make_view(
        positions=[position("TCS", 1, 1)], working_orders=[working("INFY", Side.BUY, 10, 1000)]
    )

    decision = MaxPositionSizeCheck(Decimal("0.20")).check(make_order(quantity=Decimal(11)), view)

    assert decision.code == "max_position_size"


def test_limit_order_is_sized_at_its_limit_price():
    order = make_order(quantity=Decimal(25), order_type=OrderType.LIMIT, limit_price=Decimal(800))

    assert MaxPositionSizeCheck(Decimal("0.20")).check(order, make_view()).approved


def test_market_order_without_any_price_is_denied():
    decision = MaxPositionSizeCheck().check(make_order(), make_view(prices={}))

    assert decision.code == "no_price"


def test_reducing_a_position_larger_than_the_limit_passes():
    view = make_view(positions=[position("INFY", 50, 1000)])

    decision = MaxPositionSizeCheck(Decimal("0.20")).check(
        make_order(side=Side.SELL, quantity=Decimal(10)), view
    )

    assert decision.approved


# -- risk per trade ------------------------------------------------------------


def test_loss_to_stop_within_two_percent_passes():
    order = make_order(quantity=Decimal(20), stop=Decimal(900))  # 20 x 100 = 2,000 = 2%

    assert RiskPerTradeCheck(Decimal("0.02")).check(order, make_view()).approved


def test_loss_to_stop_above_two_percent_is_denied():
    order = make_order(quantity=Decimal(20), stop=Decimal("899.95"))

    assert RiskPerTradeCheck(Decimal("0.02")).check(order, make_view()).code == "risk_per_trade"


def test_short_entry_measures_risk_to_a_stop_above():
    order = make_order(side=Side.SELL, quantity=Decimal(30), stop=Decimal(1070))

    assert RiskPerTradeCheck(Decimal("0.02")).check(order, make_view()).code == "risk_per_trade"


def test_stop_on_the_wrong_side_is_denied():
    order = make_order(quantity=Decimal(1), stop=Decimal(1010))

    assert RiskPerTradeCheck().check(order, make_view()).code == "invalid_stop"


def test_order_without_stop_passes_with_no_stop_code_by_default():
    decision = RiskPerTradeCheck().check(make_order(), make_view())

    assert (decision.approved, decision.code) == (True, "no_stop")


def test_order_without_stop_is_denied_when_a_stop_is_required():
    decision = RiskPerTradeCheck(require_stop=True).check(make_order(), make_view())

    assert decision.code == "stop_required"


# -- sector concentration -------------------------------------------------------


def test_sector_exposure_within_forty_percent_passes():
    view = make_view(
        positions=[position("TCS", 10, 3000, "IT")], prices={"INFY": 1000, "TCS": 3000}
    )

    assert SectorConcentrationCheck(Decimal("0.40")).check(make_order(), view).approved


def test_sector_exposure_above_forty_percent_is_denied():
    view = make_view(
        positions=[position("TCS", 10, 3000, "IT")], prices={"INFY": 1000, "TCS": 3100}
    )

    decision = SectorConcentrationCheck(Decimal("0.40")).check(make_order(), view)

    assert decision.code == "sector_concentration"


def test_other_sectors_do_not_count():
    view = make_view(positions=[position("HDFCBANK", 30, 1500, "BANK")])

    assert SectorConcentrationCheck(Decimal("0.40")).check(make_order(), view).approved


def test_instrument_without_sector_passes_with_no_sector_code():
    view = make_view(instrument=replace(INFY, sector=""))

    assert SectorConcentrationCheck().check(make_order(), view).code == "no_sector"


# -- capital reserve ---------------------------------------------------------------


def test_order_leaving_the_reserve_free_passes():
    view = make_view(equity=Decimal(11_000), cash=Decimal(11_000))

    assert CapitalReserveCheck(Decimal(1000)).check(make_order(), view).approved


def test_order_eating_into_the_reserve_is_denied():
    view = make_view(equity=Decimal("10999.99"), cash=Decimal("10999.99"))

    assert CapitalReserveCheck(Decimal(1000)).check(make_order(), view).code == "capital_reserve"


def reserve_view(working_price):
    # equity 30,000 with a 10,000 TCS position and a working buy of 10 SBIN
    return make_view(
        equity=Decimal(30_000),
        cash=Decimal(20_000),
        positions=[position("TCS", 5, 2000)],
        prices={"INFY": 1000, "TCS": 2000},
        working_orders=[working("SBIN", Side.BUY, 10, working_price)],
    )


def test_positions_and_working_buys_use_up_capital():
    decision = CapitalReserveCheck(Decimal(1000)).check(make_order(), reserve_view(901))

    assert decision.code == "capital_reserve"  # 30,000 - 10,000 - 9,010 - 10,000 < 1,000


def test_reserve_exactly_left_free_passes():
    assert CapitalReserveCheck(Decimal(1000)).check(make_order(), reserve_view(900)).approved


def test_working_exit_orders_do_not_use_up_capital():
    view = make_view(
        equity=Decimal(12_000),
        cash=Decimal(2_000),
        positions=[position("TCS", 5, 2000)],
        prices={"INFY": 1000, "TCS": 2000},
        working_orders=[working("TCS", Side.SELL, 5, 2100)],
    )

    assert CapitalReserveCheck(Decimal(1000)).check(make_order(quantity=Decimal(1)), view).approved
