from decimal import Decimal

import pytest

from order_processor.domain.paper.fill_model import FillModel, is_triggered, limit_price
from shared.contracts import Side

TICK = Decimal("0.05")


def test_market_fill_without_slippage_is_the_tick_price_on_the_grid():
    assert FillModel().market_price(Side.BUY, Decimal("1000.07"), TICK) == Decimal("1000.05")


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_market_fill_on_an_exact_half_tick_goes_to_the_even_tick_for_either_side(side):
    # the one rounding rule (shared.instruments.round_to_tick): half to even, no side bias
    assert FillModel().market_price(side, Decimal("1000.025"), TICK) == Decimal("1000.00")
    assert FillModel().market_price(side, Decimal("1000.075"), TICK) == Decimal("1000.10")


def test_market_buy_slips_up_and_rounds_up_to_the_grid():
    # 1000 x (1 + 5 bps) = 1000.50 exactly; 1000.10 x 1.0005 = 1000.600... -> 1000.65
    model = FillModel(slippage_bps=Decimal(5))

    assert model.market_price(Side.BUY, Decimal(1000), TICK) == Decimal("1000.50")
    assert model.market_price(Side.BUY, Decimal("1000.10"), TICK) == Decimal("1000.65")


def test_market_sell_slips_down_and_rounds_down_to_the_grid():
    model = FillModel(slippage_bps=Decimal(5))

    assert model.market_price(Side.SELL, Decimal("1000.10"), TICK) == Decimal("999.55")


@pytest.mark.parametrize(
    ("side", "limit", "tick", "expected"),
    [
        (Side.BUY, "100", "100.05", None),
        (Side.BUY, "100", "100", "100"),
        (Side.BUY, "100", "99.5", "99.5"),  # better than the limit: the tick price
        (Side.SELL, "100", "99.95", None),
        (Side.SELL, "100", "100", "100"),
        (Side.SELL, "100", "101", "101"),
    ],
)
def test_limit_fills_at_limit_or_better_once_crossed(side, limit, tick, expected):
    result = limit_price(side, Decimal(limit), Decimal(tick))

    assert result == (None if expected is None else Decimal(expected))


@pytest.mark.parametrize(
    ("side", "tick", "expected"),
    [
        (Side.BUY, "99.95", False),
        (Side.BUY, "100", True),
        (Side.SELL, "100.05", False),
        (Side.SELL, "100", True),
    ],
)
def test_stop_triggers_when_the_trigger_is_touched(side, tick, expected):
    assert is_triggered(side, Decimal(100), Decimal(tick)) is expected


def test_participation_offers_a_share_of_tick_quantity():
    assert FillModel(participation=Decimal("0.1")).available(Decimal(500)) == Decimal(50)


def test_without_participation_or_tick_quantity_there_is_no_limit():
    assert FillModel().available(Decimal(500)) is None
    assert FillModel(participation=Decimal("0.1")).available(Decimal(0)) is None
