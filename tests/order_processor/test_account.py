from decimal import Decimal

import pytest

from order_processor.domain.account import Account, DuplicateFill
from order_processor.domain.charges import ChargeSchedule, NoCharges
from order_processor.domain.fills import Fill
from order_processor.domain.ledger import EntryKind, Ledger, LedgerEntry
from shared.contracts import Product, Side

from .factories import ist

START = Decimal(100_000)


def fill(side, qty, price, seq=1, coid="c-1", symbol="INFY", product=Product.MIS):
    return Fill(
        user_id=1,
        client_order_id=coid,
        seq=seq,
        symbol=symbol,
        side=side,
        product=product,
        quantity=Decimal(qty),
        price=Decimal(price),
        ts=ist(10),
    )


def test_new_account_holds_its_deposit_as_cash():
    account = Account.open(START, ist(9), NoCharges())

    summary = account.summary({})

    assert (summary.cash, summary.equity, summary.net_deposits) == (START, START, START)


def test_fill_posts_its_cash_flow_and_each_non_zero_charge():
    account = Account.open(START, ist(9), ChargeSchedule())

    outcome = account.apply_fill(fill(Side.BUY, 100, 100))

    kinds = [(e.kind, e.item) for e in outcome.entries]
    assert kinds[0] == (EntryKind.FILL, None)
    assert {item for _, item in kinds[1:]} == {k for k, v in outcome.charges.items().items() if v}
    assert account.cash == START - 10_000 - outcome.charges.total


def test_buy_then_sell_realises_pnl_and_pays_charges():
    account = Account.open(START, ist(9), ChargeSchedule())
    bought = account.apply_fill(fill(Side.BUY, 100, 100, coid="b"))

    sold = account.apply_fill(fill(Side.SELL, 100, 105, coid="s"))

    summary = account.summary({"INFY": Decimal(105)})
    charges = bought.charges.total + sold.charges.total
    assert sold.realised_pnl == 500
    assert summary.realised_pnl == 500
    assert summary.charges == charges
    assert summary.equity == START + 500 - charges
    assert summary.open_positions == 0


def test_summary_marks_open_positions():
    account = Account.open(START, ist(9), NoCharges())
    account.apply_fill(fill(Side.BUY, 10, 1000, coid="a"))
    account.apply_fill(fill(Side.SELL, 5, 200, coid="b", symbol="SBIN"))

    summary = account.summary(
        {"INFY": Decimal(1100), "SBIN": Decimal(210)}, start_of_day_equity=START
    )

    assert summary.market_value == 11_000 - 1_050
    assert summary.unrealised_pnl == 1_000 - 50
    assert summary.margin_used == 11_000 + 1_050
    assert summary.free_margin == summary.equity - summary.margin_used
    assert summary.day_pnl == summary.equity - START


def test_unmarked_position_is_valued_at_cost():
    account = Account.open(START, ist(9), NoCharges())
    account.apply_fill(fill(Side.BUY, 10, 1000))

    summary = account.summary({})

    assert (summary.equity, summary.unrealised_pnl) == (START, 0)


def test_the_same_fill_cannot_be_booked_twice():
    account = Account.open(START, ist(9), NoCharges())
    account.apply_fill(fill(Side.BUY, 10, 1000))

    with pytest.raises(DuplicateFill):
        account.apply_fill(fill(Side.BUY, 10, 1000))


def test_account_rebuilt_from_its_entries_remembers_booked_fills():
    first = Account.open(START, ist(9), NoCharges())
    first.apply_fill(fill(Side.BUY, 10, 1000))

    rebuilt = Account(NoCharges(), ledger=Ledger(first.ledger.entries), positions=first.positions)

    assert rebuilt.cash == first.cash
    with pytest.raises(DuplicateFill):
        rebuilt.apply_fill(fill(Side.BUY, 10, 1000))


def test_withdrawal_lowers_net_deposits():
    ledger = Ledger()
    ledger.deposit(START, ist(9))
    ledger.post(LedgerEntry(ts=ist(10), kind=EntryKind.WITHDRAWAL, amount=Decimal(-5000)))

    assert Account(NoCharges(), ledger=ledger).net_deposits() == 95_000


def test_deposit_must_be_positive():
    with pytest.raises(ValueError):
        Ledger().deposit(Decimal(0), ist(9))
