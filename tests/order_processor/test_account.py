from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from order_processor.domain.account import Account
from order_processor.domain.charges import ChargeSchedule, NoCharges
from order_processor.domain.fills import Fill
from order_processor.domain.ledger import EntryKind
from order_processor.equity import EquityTracker
from shared.contracts import Product, Side

from .factories import ist

START = Decimal(100_000)


def fill(side, qty, price, seq=1, coid="c-1", symbol="INFY", product=Product.MIS, ts=None):
    return Fill(
        user_id=1,
        client_order_id=coid,
        seq=seq,
        symbol=symbol,
        side=side,
        product=product,
        quantity=Decimal(qty),
        price=Decimal(price),
        ts=ts or ist(10),
    )


def test_new_account_holds_its_starting_capital_as_cash():
    account = Account(START)

    valuation = account.valuation({}, ist(10))

    assert (valuation.cash, valuation.equity, valuation.day_pnl) == (START, START, 0)


def test_fill_posts_its_cash_flow_and_each_non_zero_charge():
    account = Account(START)

    settled = account.trade(fill(Side.BUY, 100, 100), ChargeSchedule())

    kinds = [(e.kind, e.item) for e in settled.entries]
    assert kinds[0] == (EntryKind.FILL, None)
    assert {item for _, item in kinds[1:]} == {k for k, v in settled.charges.items().items() if v}
    assert account.cash == START - 10_000 - settled.charges.total


def test_buy_then_sell_realises_pnl_and_pays_charges():
    account = Account(START)
    bought = account.trade(fill(Side.BUY, 100, 100, coid="b"), ChargeSchedule())

    sold = account.trade(fill(Side.SELL, 100, 105, coid="s"), ChargeSchedule())

    valuation = account.valuation({"INFY": Decimal(105)}, ist(15))
    charges = bought.charges.total + sold.charges.total
    assert sold.realised_pnl == 500
    assert valuation.realised_pnl == 500
    assert valuation.charges == charges
    assert valuation.equity == START + 500 - charges
    assert valuation.open_positions == 0


def test_valuation_marks_open_positions():
    account = Account(START)
    account.trade(fill(Side.BUY, 10, 1000, coid="a"), NoCharges())
    account.trade(fill(Side.SELL, 5, 200, coid="b", symbol="SBIN"), NoCharges())

    valuation = account.valuation({"INFY": Decimal(1100), "SBIN": Decimal(210)}, ist(15))

    assert valuation.market_value == 11_000 - 1_050
    assert valuation.unrealised_pnl == 1_000 - 50
    assert valuation.margin_used == 11_000 + 1_050
    assert valuation.free_margin == valuation.equity - valuation.margin_used
    assert valuation.day_pnl == valuation.equity - START


def test_unmarked_position_is_valued_at_cost():
    account = Account(START)
    account.trade(fill(Side.BUY, 10, 1000), NoCharges())

    valuation = account.valuation({}, ist(15))

    assert (valuation.equity, valuation.unrealised_pnl) == (START, 0)


def test_start_of_day_is_book_equity_after_the_last_fill_before_midnight():
    account = Account(START)
    yesterday = ist(10) - timedelta(days=1)
    account.book_fill(fill(Side.BUY, 10, 100, coid="a", ts=yesterday), Decimal(3))
    account.book_fill(fill(Side.SELL, 10, 110, coid="b", ts=yesterday), Decimal(4))
    account.book_fill(fill(Side.BUY, 10, 100, coid="c", ts=ist(10)), Decimal(5))

    assert account.start_of_day(ist(15)) == START + 100 - 7
    assert account.book_equity == START + 100 - 12
    assert account.peak(Decimal(0)) == START + 100 - 7


def test_what_a_batch_asks_of_an_account_is_made_again_after_each_fill():
    # The start of the day and of the week are kept between fills (every order of a batch
    # asks): a fill, even one booked late with an earlier time, makes them anew.
    account = Account(START)
    yesterday = ist(10) - timedelta(days=1)
    account.book_fill(fill(Side.BUY, 10, 100, coid="a", ts=yesterday), Decimal(3))
    assert account.start_of_day(ist(15)) == START - 3
    account.book_fill(fill(Side.SELL, 10, 110, coid="b", ts=yesterday), Decimal(4))
    assert account.start_of_day(ist(15)) == START + 100 - 7
    made = []
    assert account.kept("k", lambda: made.append(1) or len(made)) == 1
    assert account.kept("k", lambda: made.append(1) or len(made)) == 1
    account.book_fill(fill(Side.BUY, 1, 100, coid="c", ts=ist(10)), Decimal(0))
    assert account.kept("k", lambda: made.append(1) or len(made)) == 2


def test_tracker_ignores_a_stored_fill_it_has_read():
    tracker = EquityTracker(START)
    row = {
        "symbol": "INFY",
        "side": Side.BUY,
        "product": Product.MIS,
        "quantity": Decimal(10),
        "price": Decimal(100),
        "charges": Decimal(1),
        "ts": ist(10),
    }
    tracker.apply(1, **row)

    tracker.apply(1, **row)

    assert tracker.book.get("INFY", Product.MIS).quantity == 10
    assert tracker.cash == START - 1_000 - 1


@given(st.lists(st.datetimes(timezones=st.just(UTC)), min_size=1, max_size=30))
def test_day_start_is_midnight_ist_of_the_day_whatever_came_before(moments):
    from datetime import datetime, time

    from order_processor.domain.account import day_start, week_start
    from shared.calendar import IST

    for now in [*moments, *sorted(moments)]:
        want = datetime.combine(now.astimezone(IST).date(), time(0), IST)
        assert day_start(now) == want
        assert week_start(now) == want - timedelta(days=want.weekday())


def test_day_start_turns_at_midnight_ist():
    from order_processor.domain.account import day_start

    before = datetime(2026, 3, 5, 18, 29, 59, 999_999, tzinfo=UTC)  # 23:59:59.999999 IST
    after = before + timedelta(microseconds=1)
    assert day_start(before) == ist(0, day=date(2026, 3, 5))
    assert day_start(after) == ist(0, day=date(2026, 3, 6))
    assert day_start(before) == ist(0, day=date(2026, 3, 5))


@given(
    st.lists(st.integers(0, 3 * 24 * 60), min_size=1, max_size=30),
    st.integers(-24 * 60, 4 * 24 * 60),
    st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York", "+05:30"]),
)
def test_book_equity_before_a_time_is_the_same_in_every_zone(minutes, at, zone):
    from datetime import timezone
    from zoneinfo import ZoneInfo

    account = Account(START)
    before = Account(START)  # the same fills, only those before the moment
    base = datetime(2026, 12, 1, tzinfo=UTC)
    moment = base + timedelta(minutes=at)
    for n, m in enumerate(sorted(minutes)):
        side = Side.BUY if n % 2 == 0 else Side.SELL
        when = base + timedelta(minutes=m)
        account.book_fill(fill(side, 1, 100 + n, coid=f"f{n}", ts=when), Decimal(n))
        if when < moment:
            before.book_fill(fill(side, 1, 100 + n, coid=f"f{n}", ts=when), Decimal(n))
    tz = timezone(timedelta(hours=5, minutes=30)) if zone == "+05:30" else ZoneInfo(zone)
    assert account.book_equity_before(moment) == before.book_equity
    assert account.book_equity_before(moment.astimezone(tz)) == before.book_equity
