"""Ledger invariants over random fill sequences."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from order_processor.domain.account import Account
from order_processor.domain.charges import ChargeSchedule
from order_processor.domain.fills import Fill
from shared.contracts import Product, Side

from .factories import ist

START = Decimal(10_000_000)
SYMBOLS = ("INFY", "TCS", "SBIN")
TICK = Decimal("0.05")

fills_strategy = st.lists(
    st.tuples(
        st.sampled_from(SYMBOLS),
        st.sampled_from([Product.MIS, Product.CNC]),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(1, 500),
        st.integers(1, 100_000),  # price in ticks: 0.05 .. 5,000
    ),
    max_size=40,
)
marks_strategy = st.fixed_dictionaries({s: st.integers(1, 100_000) for s in SYMBOLS})


def play(fills):
    account = Account.open(START, ist(9), ChargeSchedule())
    booked = []
    for i, (symbol, product, side, qty, ticks) in enumerate(fills):
        fill = Fill(
            user_id=1,
            client_order_id=f"o{i}",
            seq=1,
            symbol=symbol,
            side=side,
            product=product,
            quantity=Decimal(qty),
            price=ticks * TICK,
            ts=ist(10),
        )
        booked.append(account.apply_fill(fill))
    return account, booked


@settings(deadline=None)
@given(fills_strategy)
def test_position_quantity_is_the_sum_of_signed_fills(fills):
    account, booked = play(fills)

    for position in account.positions:
        expected = sum(
            (
                o.fill.signed_quantity
                for o in booked
                if (o.fill.symbol, o.fill.product) == position.key
            ),
            Decimal(0),
        )
        assert position.quantity == expected


@settings(deadline=None)
@given(fills_strategy)
def test_cash_is_start_minus_buys_plus_sells_minus_charges(fills):
    account, booked = play(fills)

    buys = sum((o.fill.notional for o in booked if o.fill.side is Side.BUY), Decimal(0))
    sells = sum((o.fill.notional for o in booked if o.fill.side is Side.SELL), Decimal(0))
    charges = sum((o.charges.total for o in booked), Decimal(0))
    assert account.cash == START - buys + sells - charges
    assert account.ledger.total_charges == charges


@settings(deadline=None)
@given(fills_strategy, marks_strategy)
def test_equity_is_cash_plus_marked_positions(fills, mark_ticks):
    account, _ = play(fills)
    marks = {s: t * TICK for s, t in mark_ticks.items()}

    summary = account.summary(marks)

    marked = sum((p.quantity * marks[p.symbol] for p in account.positions), Decimal(0))
    assert summary.equity == summary.cash + marked


@settings(deadline=None)
@given(fills_strategy, marks_strategy)
def test_pnl_net_of_charges_is_the_change_in_equity(fills, mark_ticks):
    account, _ = play(fills)
    marks = {s: t * TICK for s, t in mark_ticks.items()}

    summary = account.summary(marks)

    assert summary.realised_pnl + summary.unrealised_pnl - summary.charges == summary.equity - START
