from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from order_processor.domain.risk.gates import KillSwitchCheck, MarketHoursCheck, OrderRateCheck
from order_processor.domain.risk.prices import FreezeQuantityCheck, PriceBandCheck
from shared.contracts import OrderType, Product, Side

from .factories import (
    ALWAYS_OPEN,
    BTC,
    INFY,
    TRADING_DAY,
    ist,
    make_order,
    make_view,
    position,
    working,
)

LONG_100 = [position("INFY", 100, 1000)]


def test_kill_switch_passes_when_nothing_is_halted():
    assert KillSwitchCheck().check(make_order(), make_view()).approved


def test_user_halt_denies_a_new_position():
    decision = KillSwitchCheck().check(make_order(), make_view(user_halted=True))

    assert (decision.approved, decision.code) == (False, "halted_user")


def test_global_halt_denies_a_new_position():
    decision = KillSwitchCheck().check(make_order(), make_view(global_halted=True))

    assert (decision.approved, decision.code) == (False, "halted_global")


def test_halted_account_accepts_a_risk_reducing_order():
    order = make_order(side=Side.SELL, quantity=Decimal(40))

    decision = KillSwitchCheck().check(order, make_view(positions=LONG_100, user_halted=True))

    assert (decision.approved, decision.code) == (True, "risk_reducing")


def test_halted_account_refuses_an_order_that_flips_the_position():
    order = make_order(side=Side.SELL, quantity=Decimal(150))

    decision = KillSwitchCheck().check(order, make_view(positions=LONG_100, global_halted=True))

    assert not decision.approved


def test_halted_account_refuses_reductions_that_flip_together_with_working_orders():
    view = make_view(
        positions=LONG_100, user_halted=True, working_orders=[working("INFY", Side.SELL, 70, 1010)]
    )

    decision = KillSwitchCheck().check(make_order(side=Side.SELL, quantity=Decimal(40)), view)

    assert not decision.approved


def test_strict_halt_refuses_even_risk_reducing_orders():
    order = make_order(side=Side.SELL, quantity=Decimal(40))

    decision = KillSwitchCheck(allow_risk_reducing=False).check(
        order, make_view(positions=LONG_100, user_halted=True)
    )

    assert decision.code == "halted_user"


def test_market_hours_pass_during_the_nse_session():
    assert MarketHoursCheck().check(make_order(), make_view(now=ist(9, 15))).approved


def test_market_hours_deny_before_the_open():
    decision = MarketHoursCheck().check(make_order(), make_view(now=ist(9, 14, 59)))

    assert decision.code == "market_closed"


def test_market_hours_deny_on_an_nse_holiday():
    decision = MarketHoursCheck().check(make_order(), make_view(now=ist(11, day=date(2025, 8, 15))))

    assert decision.code == "market_closed"


def test_market_hours_deny_at_the_weekend():
    saturday = TRADING_DAY + timedelta(days=4)

    assert MarketHoursCheck().check(make_order(), make_view(now=ist(11, day=saturday))).code == (
        "market_closed"
    )


def test_crypto_trades_at_any_hour():
    order = make_order(symbol="BTCUSDT")
    view = make_view(
        now=ist(3, day=TRADING_DAY + timedelta(days=5)), calendar=ALWAYS_OPEN, instrument=BTC
    )

    assert MarketHoursCheck().check(order, view).approved


def test_new_intraday_position_after_square_off_time_is_denied():
    decision = MarketHoursCheck().check(make_order(product=Product.MIS), make_view(now=ist(15, 20)))

    assert decision.code == "mis_cutoff"


def test_delivery_order_after_square_off_time_passes():
    decision = MarketHoursCheck().check(make_order(product=Product.CNC), make_view(now=ist(15, 25)))

    assert decision.approved


def test_intraday_exit_after_square_off_time_passes():
    order = make_order(product=Product.MIS, side=Side.SELL, quantity=Decimal(100))

    decision = MarketHoursCheck().check(order, make_view(now=ist(15, 25), positions=LONG_100))

    assert decision.approved


def test_tenth_order_within_a_second_passes():
    now = ist(10)
    times = [now - timedelta(milliseconds=100 * i) for i in range(9)]

    assert (
        OrderRateCheck(10)
        .check(make_order(), make_view(now=now, recent_order_times=times))
        .approved
    )


def test_eleventh_order_within_a_second_is_denied():
    now = ist(10)
    times = [now - timedelta(milliseconds=90 * i) for i in range(10)]

    decision = OrderRateCheck(10).check(make_order(), make_view(now=now, recent_order_times=times))

    assert decision.code == "order_rate_limit"


def test_orders_older_than_a_second_do_not_count():
    now = ist(10)
    times = [now - timedelta(seconds=1, milliseconds=i) for i in range(50)]

    assert (
        OrderRateCheck(10)
        .check(make_order(), make_view(now=now, recent_order_times=times))
        .approved
    )


def test_quantity_above_the_freeze_limit_is_denied():
    view = make_view(instrument=replace(INFY, freeze_qty=1800))

    decision = FreezeQuantityCheck().check(make_order(quantity=Decimal(1801)), view)

    assert decision.code == "freeze_quantity_exceeded"


def test_quantity_at_the_freeze_limit_passes():
    view = make_view(instrument=replace(INFY, freeze_qty=1800))

    assert FreezeQuantityCheck().check(make_order(quantity=Decimal(1800)), view).approved


def limit(price):
    return make_order(order_type=OrderType.LIMIT, limit_price=Decimal(price))


def test_limit_price_within_the_band_passes():
    assert PriceBandCheck(Decimal("0.05")).check(limit("1050"), make_view()).approved


def test_limit_price_outside_the_band_is_denied():
    decision = PriceBandCheck(Decimal("0.05")).check(limit("1050.05"), make_view())

    assert decision.code == "price_band_exceeded"


def test_trigger_price_outside_the_band_is_denied():
    order = make_order(order_type=OrderType.SL_M, trigger_price=Decimal(940))

    assert PriceBandCheck(Decimal("0.05")).check(order, make_view()).code == "price_band_exceeded"


def test_band_is_configurable():
    assert PriceBandCheck(Decimal("0.10")).check(limit("1090"), make_view()).approved


def test_limit_order_without_a_last_price_is_denied():
    decision = PriceBandCheck().check(limit("1000"), make_view(prices={}))

    assert decision.code == "no_reference_price"


def test_market_order_has_no_price_to_band():
    assert PriceBandCheck().check(make_order(), make_view(prices={})).approved


def test_a_closed_market_denial_names_the_next_open_in_the_exchange_local_time():
    saturday = TRADING_DAY + timedelta(days=4)

    decision = MarketHoursCheck().check(make_order(), make_view(now=ist(11, day=saturday)))

    monday = saturday + timedelta(days=2)
    assert decision.message == (f"NSE is closed (weekend); it opens {monday:%a %d %b} 09:15 IST")
