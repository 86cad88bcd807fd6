"""Position sizing: risk-based quantities, lot rounding, caps, and refusals with reasons."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

import pytest

from shared.contracts import Side
from strategy_workers.sizing import (
    InvalidSizingParams,
    SizingMethod,
    build_sizer,
    fixed_fractional,
    fractional_kelly,
    kelly_fraction,
    round_to_lot,
    sizing_schemas,
    volatility_adjusted,
)

EQUITY = Decimal("100000")
ENTRY = Decimal("250.40")


def floor_lots(qty: Decimal, lot: int) -> Decimal:
    return (qty / lot).to_integral_value(rounding=ROUND_FLOOR) * lot


def test_fixed_fractional_risks_one_percent_between_entry_and_stop():
    stop = Decimal("245.15")

    result = fixed_fractional(EQUITY, ENTRY, stop, Side.BUY)

    assert result.quantity == floor_lots(EQUITY * Decimal("0.01") / (ENTRY - stop), 1)
    assert result.ok


def test_fixed_fractional_sizes_a_short_with_the_stop_above():
    stop = Decimal("262.00")

    result = fixed_fractional(EQUITY, ENTRY, stop, Side.SELL, risk_fraction=Decimal("0.02"))

    assert result.quantity == floor_lots(EQUITY * Decimal("0.02") / (stop - ENTRY), 1)


def test_quantity_is_rounded_down_to_the_lot_size():
    stop = Decimal("245.15")

    result = fixed_fractional(EQUITY, ENTRY, stop, Side.BUY, lot_size=75)

    raw = EQUITY * Decimal("0.01") / (ENTRY - stop)
    assert result.quantity % 75 == 0
    assert result.quantity <= raw < result.quantity + 75


def test_less_than_one_lot_of_risk_sizes_to_zero_with_a_reason():
    result = fixed_fractional(Decimal("1000"), ENTRY, Decimal("245"), Side.BUY, lot_size=75)

    assert result.quantity == 0
    assert "lot" in result.reason


@pytest.mark.parametrize(
    ("side", "stop", "why"),
    [
        (Side.BUY, None, "none given"),
        (Side.BUY, ENTRY, "equals the entry"),
        (Side.BUY, ENTRY + 5, "above the entry of a buy"),
        (Side.SELL, ENTRY - 5, "below the entry of a sell"),
        (Side.BUY, Decimal("-1"), "not a positive price"),
    ],
)
def test_invalid_stop_sizes_to_zero_with_the_reason(side, stop, why):
    result = fixed_fractional(EQUITY, ENTRY, stop, side)

    assert result.quantity == 0
    assert not result.ok
    assert why in result.reason


def test_a_tight_stop_is_capped_by_the_capital():
    result = fixed_fractional(EQUITY, ENTRY, ENTRY - Decimal("0.05"), Side.BUY)

    assert result.quantity == floor_lots(EQUITY / ENTRY, 1)
    assert result.reason == "capped by capital"


def test_leverage_raises_the_capital_cap():
    result = fixed_fractional(
        EQUITY, ENTRY, ENTRY - Decimal("0.05"), Side.BUY, max_leverage=Decimal(5)
    )

    assert result.quantity == floor_lots(5 * EQUITY / ENTRY, 1)


def test_no_equity_sizes_to_zero():
    assert fixed_fractional(Decimal(0), ENTRY, Decimal(240), Side.BUY).reason == "no equity to risk"


def test_kelly_fraction_is_win_rate_minus_loss_rate_over_payoff():
    assert kelly_fraction(Decimal("0.55"), Decimal("1.5")) == Decimal("0.55") - Decimal(
        "0.45"
    ) / Decimal("1.5")


def test_fractional_kelly_risks_the_fraction_of_the_kelly_bet():
    stop = Decimal("240.40")
    kelly = kelly_fraction(Decimal("0.45"), Decimal("1.5"))

    result = fractional_kelly(
        EQUITY,
        ENTRY,
        stop,
        Side.BUY,
        win_rate=Decimal("0.45"),
        payoff_ratio=Decimal("1.5"),
        fraction=Decimal("0.25"),
    )

    assert result.quantity == floor_lots(EQUITY * kelly * Decimal("0.25") / (ENTRY - stop), 1)


def test_fractional_kelly_is_capped_at_the_maximum_risk_fraction():
    stop = Decimal("240.40")

    result = fractional_kelly(
        EQUITY,
        ENTRY,
        stop,
        Side.BUY,
        win_rate=Decimal("0.8"),
        payoff_ratio=Decimal("3"),
        fraction=Decimal(1),
        max_risk_fraction=Decimal("0.02"),
    )

    assert result.quantity == floor_lots(EQUITY * Decimal("0.02") / (ENTRY - stop), 1)


def test_fractional_kelly_without_an_edge_trades_nothing():
    result = fractional_kelly(
        EQUITY, ENTRY, Decimal(240), Side.BUY, win_rate=Decimal("0.3"), payoff_ratio=Decimal(1)
    )

    assert result.quantity == 0
    assert "no edge" in result.reason


def test_volatility_adjusted_risks_the_fraction_over_atr_multiples():
    atr = Decimal("3.2")

    result = volatility_adjusted(EQUITY, ENTRY, atr, atr_multiple=Decimal("1.5"), lot_size=10)

    assert result.quantity == floor_lots(EQUITY * Decimal("0.01") / (atr * Decimal("1.5")), 10)


def test_volatility_adjusted_without_atr_trades_nothing():
    result = volatility_adjusted(EQUITY, ENTRY, None)

    assert result.quantity == 0
    assert "ATR" in result.reason


def test_round_to_lot_supports_fractional_lots():
    assert round_to_lot(Decimal("0.123456"), Decimal("0.001")) == Decimal("0.123")


def test_sizer_applies_the_validated_settings():
    sizer = build_sizer("fixed_fractional", {"risk_fraction": "0.02"})
    stop = Decimal(245)

    result = sizer.size(EQUITY, ENTRY, stop, Side.BUY, lot_size=5)

    assert result.quantity == floor_lots(EQUITY * Decimal("0.02") / (ENTRY - stop), 5)


def test_only_the_volatility_sizer_asks_for_an_atr():
    assert build_sizer("volatility", {"atr_period": 20}).atr_period == 20
    assert build_sizer("kelly").atr_period is None


def test_bad_sizing_parameter_is_reported_against_its_field():
    with pytest.raises(InvalidSizingParams) as caught:
        build_sizer("kelly", {"win_rate": 1.5})

    assert [d["field"] for d in caught.value.details] == ["sizing_params.win_rate"]


def test_unknown_sizing_method_is_reported_against_the_method_field():
    with pytest.raises(InvalidSizingParams) as caught:
        build_sizer("martingale")

    assert [d["field"] for d in caught.value.details] == ["sizing_method"]


def test_every_sizing_method_publishes_a_schema():
    assert set(sizing_schemas()) == {m.value for m in SizingMethod}
