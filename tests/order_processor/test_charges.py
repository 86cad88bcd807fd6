from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_processor.catalog import TradingCatalog
from order_processor.domain.charges import (
    ChargeBreakdown,
    ChargeSchedule,
    CryptoFeeSchedule,
    NoCharges,
    charges_for_fill,
)
from order_processor.domain.fills import Fill
from order_processor.domain.money import ZERO
from shared.contracts import Product, Side

from .factories import ist

NSE = ChargeSchedule()


def D(s):
    return Decimal(s)


# Worked examples, computed by hand from the published rates (see docs/orders.md).
@pytest.mark.parametrize(
    ("side", "product", "qty", "price", "expected"),
    [
        # 1,00,000 intraday buy: brokerage min(20, 30); stamp 0.003%; GST 18% of 23.07
        (
            Side.BUY,
            Product.MIS,
            "100",
            "1000",
            ChargeBreakdown(D("20.00"), D("0"), D("2.97"), D("0.10"), D("3.00"), D("4.15")),
        ),
        # same sell: STT 0.025% instead of stamp duty
        (
            Side.SELL,
            Product.MIS,
            "100",
            "1000",
            ChargeBreakdown(D("20.00"), D("25.00"), D("2.97"), D("0.10"), D("0"), D("4.15")),
        ),
        # 15,000 delivery buy: no brokerage, STT 0.1%, stamp 0.015%
        (
            Side.BUY,
            Product.CNC,
            "10",
            "1500",
            ChargeBreakdown(D("0"), D("15.00"), D("0.45"), D("0.02"), D("2.25"), D("0.08")),
        ),
        (
            Side.SELL,
            Product.CNC,
            "10",
            "1500",
            ChargeBreakdown(D("0"), D("15.00"), D("0.45"), D("0.02"), D("0"), D("0.08")),
        ),
        # 1,000 intraday buy: 0.03% is below the 20 INR cap; the SEBI fee (0.001) is positive,
        # so it is one paisa, not zero; GST 18% of 0.34
        (
            Side.BUY,
            Product.MIS,
            "10",
            "100",
            ChargeBreakdown(D("0.30"), D("0"), D("0.03"), D("0.01"), D("0.03"), D("0.06")),
        ),
    ],
)
def test_nse_charges_match_worked_examples(side, product, qty, price, expected):
    assert NSE.charges(side, product, D(qty), D(price)) == expected


def test_total_is_the_sum_of_the_items():
    breakdown = NSE.charges(Side.SELL, Product.MIS, D(100), D(1000))

    assert breakdown.total == sum(breakdown.items().values()) == D("52.22")


def test_brokerage_cap_applies_per_order_across_its_fills():
    first = NSE.charges(Side.BUY, Product.MIS, D(50), D(1000))
    second = NSE.charges(Side.BUY, Product.MIS, D(50), D(1000), order_turnover_before=D(50_000))

    assert (first.brokerage, second.brokerage) == (D("15.00"), D("5.00"))


@given(
    st.lists(st.integers(1, 400), min_size=1, max_size=8),
    st.integers(100, 500_000).map(lambda p: Decimal(p) / 100),
)
def test_fills_of_one_order_pay_exactly_one_orders_brokerage(quantities, price):
    paid, before = Decimal(0), Decimal(0)
    for q in quantities:
        paid += NSE.charges(Side.BUY, Product.MIS, Decimal(q), price, before).brokerage
        before += q * price

    whole = NSE.charges(Side.BUY, Product.MIS, Decimal(sum(quantities)), price).brokerage
    assert paid == whole


def test_delivery_brokerage_is_configurable():
    schedule = ChargeSchedule(delivery_brokerage_rate=D("0.001"), delivery_brokerage_cap=D(20))

    assert schedule.charges(Side.BUY, Product.CNC, D(10), D(1500)).brokerage == D("15.00")
    assert schedule.charges(Side.BUY, Product.CNC, D(100), D(1500)).brokerage == D("20.00")


def test_every_item_is_rounded_to_paise():
    breakdown = NSE.charges(Side.SELL, Product.CNC, D(7), D("123.45"))

    assert all(v == v.quantize(D("0.01")) for v in breakdown.items().values())


def test_negative_rates_are_refused():
    with pytest.raises(ValueError):
        ChargeSchedule(gst_rate=D("-0.1"))


def test_crypto_fee_is_a_flat_percentage_of_turnover():
    breakdown = CryptoFeeSchedule().charges(Side.SELL, Product.CNC, D("0.5"), D(60_000))

    assert (breakdown.brokerage, breakdown.total) == (D("30.00"), D("30.00"))


def test_crypto_fee_can_carry_gst():
    breakdown = CryptoFeeSchedule(fee_rate=D("0.002"), gst_rate=D("0.18")).charges(
        Side.BUY, Product.CNC, D(1), D(10_000)
    )

    assert (breakdown.brokerage, breakdown.gst) == (D("20.00"), D("3.60"))


def test_charges_for_fill_uses_the_fills_order_turnover():
    fill = Fill(
        user_id=1,
        client_order_id="c",
        seq=2,
        symbol="INFY",
        side=Side.BUY,
        product=Product.MIS,
        quantity=D(50),
        price=D(1000),
        ts=ist(10),
        order_turnover_before=D(50_000),
    )

    assert charges_for_fill(NSE, fill).brokerage == D("5.00")
    assert charges_for_fill(NoCharges(), fill).total == 0


def test_the_smallest_btc_buy_pays_its_exact_fee_in_usdt():
    fees = TradingCatalog().fee_model("BTCUSDT")

    breakdown = fees.charges(Side.BUY, Product.CNC, D("0.00001"), D("95000.00"))

    # 0.1% of 0.95 USDT, to the 8 decimals the exchange charges in
    assert breakdown.total == breakdown.brokerage == D("0.00095000")


def test_a_crypto_fee_below_the_smallest_unit_is_one_unit():
    breakdown = CryptoFeeSchedule().charges(Side.SELL, Product.CNC, D("0.00001"), D("0.01"))

    assert breakdown.brokerage == D("0.00000001")


@given(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from([Product.MIS, Product.CNC]),
    st.integers(1, 10_000).map(lambda q: Decimal(q)),
    st.integers(1, 100_000).map(lambda p: Decimal(p) / 100),
)
def test_a_positive_nse_charge_is_never_rounded_to_zero(side, product, qty, price):
    breakdown = NSE.charges(side, product, qty, price)

    rates = {
        "brokerage": NSE.intraday_brokerage_rate if product is Product.MIS else ZERO,
        "exchange_txn": NSE.exchange_txn_rate,
        "sebi_fee": NSE.sebi_rate,
        "gst": NSE.gst_rate,
    }
    assert all(breakdown.items()[item] >= D("0.01") for item, rate in rates.items() if rate)
    assert breakdown.stt > 0 or (product is Product.MIS and side is Side.BUY)
    assert breakdown.stamp_duty > 0 or side is Side.SELL


def test_breakdown_items_name_every_item_in_field_order():
    from dataclasses import fields

    from order_processor.domain.charges import ChargeBreakdown

    breakdown = ChargeBreakdown(*(Decimal(n + 1) for n in range(len(fields(ChargeBreakdown)))))
    assert breakdown.items() == {
        f.name: getattr(breakdown, f.name) for f in fields(ChargeBreakdown)
    }
    assert sum(breakdown.items().values()) == breakdown.total
