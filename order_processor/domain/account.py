"""A trading account in memory: cash ledger + positions + fee model, and its summary.

The service rebuilds one from stored entries and positions; the backtester and
the paper broker's tests drive one directly.

Margin rule (deliberately simple): margin used is the full notional of every
open position at its mark, for CNC and MIS alike (intraday leverage is not
extended), and free margin is equity minus margin used. For a long-only book
that equals the cash balance; a short locks capital equal to its marked value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shared.errors import Conflict

from .charges import ChargeBreakdown, FeeModel, charges_for_fill
from .fills import Fill
from .ledger import EntryKind, Ledger, LedgerEntry, fill_entries
from .money import ZERO
from .positions import Position, PositionBook


class DuplicateFill(Conflict):
    """A fill with this key was booked already (replays must not double-count)."""

    code = "duplicate_fill"


@dataclass(frozen=True, slots=True)
class FillOutcome:
    """What booking one fill did: its charges, the new position, realised P&L, ledger entries."""

    fill: Fill
    charges: ChargeBreakdown
    position: Position
    realised_pnl: Decimal
    entries: tuple[LedgerEntry, ...]


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """The account at a set of marks.

    ``equity = cash + market_value`` and
    ``realised + unrealised - charges = equity - net_deposits``.
    """

    cash: Decimal
    market_value: Decimal
    equity: Decimal
    margin_used: Decimal
    free_margin: Decimal
    realised_pnl: Decimal
    unrealised_pnl: Decimal
    charges: Decimal
    net_deposits: Decimal
    day_pnl: Decimal | None
    open_positions: int


class Account:
    """Cash ledger and position book of one broker account."""

    def __init__(
        self,
        fee_model: FeeModel,
        ledger: Ledger | None = None,
        positions: PositionBook | None = None,
    ) -> None:
        self.fee_model = fee_model
        self.ledger = ledger if ledger is not None else Ledger()
        self.positions = positions if positions is not None else PositionBook()
        self._fill_keys = {e.ref for e in self.ledger if e.kind is EntryKind.FILL}

    @classmethod
    def open(cls, initial_cash: Decimal, ts: datetime, fee_model: FeeModel) -> Account:
        """A new account funded with ``initial_cash``."""
        account = cls(fee_model)
        account.ledger.deposit(initial_cash, ts, ref="initial")
        return account

    def apply_fill(self, fill: Fill) -> FillOutcome:
        """Price the fill's charges, post its cash flow and charges, and update the position."""
        if fill.fill_key in self._fill_keys:
            raise DuplicateFill(f"fill {fill.fill_key} is already booked")
        charges = charges_for_fill(self.fee_model, fill)
        entries = fill_entries(fill, charges)
        for entry in entries:
            self.ledger.post(entry)
        position, realised = self.positions.apply_fill(fill)
        self._fill_keys.add(fill.fill_key)
        return FillOutcome(fill, charges, position, realised, tuple(entries))

    @property
    def cash(self) -> Decimal:
        return self.ledger.balance

    def net_deposits(self) -> Decimal:
        """Money put in minus money taken out (the base P&L is measured against)."""
        return sum(
            (
                e.amount
                for e in self.ledger
                if e.kind in (EntryKind.DEPOSIT, EntryKind.WITHDRAWAL, EntryKind.ADJUSTMENT)
            ),
            ZERO,
        )

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Cash plus the signed marked value of open positions."""
        return self.cash + self.positions.market_value(marks)

    def summary(
        self,
        marks: Mapping[str, Decimal],
        start_of_day_equity: Decimal | None = None,
    ) -> AccountSummary:
        """The account marked at ``marks``; day P&L needs the start-of-day equity."""
        market_value = self.positions.market_value(marks)
        equity = self.cash + market_value
        margin = sum(
            (
                abs(p.market_value(marks.get(p.symbol, p.average_price)))
                for p in self.positions.open_positions()
            ),
            ZERO,
        )
        return AccountSummary(
            cash=self.cash,
            market_value=market_value,
            equity=equity,
            margin_used=margin,
            free_margin=equity - margin,
            realised_pnl=self.positions.realised_pnl,
            unrealised_pnl=self.positions.unrealised_pnl(marks),
            charges=self.ledger.total_charges,
            net_deposits=self.net_deposits(),
            day_pnl=None if start_of_day_equity is None else equity - start_of_day_equity,
            open_positions=len(self.positions.open_positions()),
        )
