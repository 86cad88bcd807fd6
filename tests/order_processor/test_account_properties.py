"""The account model's invariants over random fills, on the path production takes.

Each fill is priced by the catalog's real fee model and booked with
``Account.trade`` (what the booking settles and a backtest does); the same
fills, as stored rows with their charges, are replayed through ``EquityTracker``
(what ``AccountReader`` reads the risk view and the summary from).
"""

from decimal import Decimal

from hypothesis import given, settings

from order_processor.catalog import default_catalog
from order_processor.domain.account import Account, Settlement
from order_processor.domain.ledger import EntryKind
from order_processor.equity import EquityTracker

from .factories import ist
from .random_fills import Case, all_fills, cases, plan

START = Decimal(100_000_000)
NOW = ist(15)  # the invariants hold at any time
CATALOG = default_catalog()


def play(case: Case) -> tuple[Account, EquityTracker, list[Settlement]]:
    account = Account(START)
    tracker = EquityTracker(START)
    settlements = []
    for fill_id, fill in enumerate(all_fills(plan(case)), 1):
        settled = account.trade(fill, CATALOG.fee_model(fill.symbol))
        tracker.apply(
            fill_id,
            symbol=fill.symbol,
            side=fill.side,
            product=fill.product,
            quantity=fill.quantity,
            price=fill.price,
            charges=settled.charges.total,
            ts=fill.ts,
        )
        settlements.append(settled)
    return account, tracker, settlements


@settings(deadline=None)
@given(cases())
def test_position_quantity_is_the_sum_of_signed_fills(case):
    account, tracker, settlements = play(case)

    for model in (account, tracker):
        for position in model.positions:
            expected = sum(
                (s.fill.signed_quantity for s in settlements if s.position.key == position.key),
                Decimal(0),
            )
            assert position.quantity == expected


@settings(deadline=None)
@given(cases())
def test_cash_is_start_plus_flows_minus_charges(case):
    account, tracker, settlements = play(case)

    flows = sum((s.fill.cash_flow for s in settlements), Decimal(0))
    charges = sum((s.charges.total for s in settlements), Decimal(0))
    entries = [e for s in settlements for e in s.entries]
    charged = -sum((e.amount for e in entries if e.kind is EntryKind.CHARGE), Decimal(0))
    for model in (account, tracker):
        assert model.cash == START + flows - charges
        assert model.cash == START + sum((e.amount for e in entries), Decimal(0))
        assert model.charges == charges == charged


@settings(deadline=None)
@given(cases())
def test_equity_is_cash_plus_marked_positions(case):
    account, tracker, _ = play(case)

    for model in (account, tracker):
        valuation = model.valuation(case.marks, NOW)
        marked = sum((p.quantity * case.marks[p.symbol] for p in model.positions), Decimal(0))
        assert valuation.equity == valuation.cash + marked == model.equity(case.marks)


@settings(deadline=None)
@given(cases())
def test_pnl_net_of_charges_is_the_change_in_equity(case):
    account, tracker, _ = play(case)
    some_marks = dict(list(case.marks.items())[:1])  # the other symbol is valued at cost

    for model in (account, tracker):
        for marks in (case.marks, some_marks, {}):
            v = model.valuation(marks, NOW)
            assert v.realised_pnl + v.unrealised_pnl - v.charges == v.equity - START
            assert v.free_margin == v.equity - v.margin_used


@settings(deadline=None)
@given(cases())
def test_stored_fills_replayed_give_the_account_that_booked_them(case):
    account, tracker, _ = play(case)

    assert tracker.valuation(case.marks, NOW) == account.valuation(case.marks, NOW)
    assert list(tracker.book) == list(account.positions)
    assert tracker.peak_book_equity == account.peak_book_equity
