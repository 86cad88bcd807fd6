"""The cash ledger: every flow of money in or out of an account, as an append-only entry."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from .charges import ChargeBreakdown
from .fills import Fill
from .money import ZERO


class EntryKind(StrEnum):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    FILL = "FILL"
    CHARGE = "CHARGE"
    ADJUSTMENT = "ADJUSTMENT"


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """One cash movement: ``amount`` is positive into the account, negative out of it."""

    ts: datetime
    kind: EntryKind
    amount: Decimal
    ref: str = ""
    """What caused it, e.g. the fill key; (ref, kind, item) is unique per account."""
    symbol: str | None = None
    item: str | None = None
    """For a CHARGE: which charge (brokerage, stt, exchange_txn, sebi_fee, stamp_duty, gst)."""


def fill_entries(fill: Fill, charges: ChargeBreakdown) -> list[LedgerEntry]:
    """The entries a fill posts: its cash flow, then one entry per non-zero charge."""
    entries = [
        LedgerEntry(
            ts=fill.ts,
            kind=EntryKind.FILL,
            amount=fill.cash_flow,
            ref=fill.fill_key,
            symbol=fill.symbol,
        )
    ]
    entries += [
        LedgerEntry(
            ts=fill.ts,
            kind=EntryKind.CHARGE,
            amount=-amount,
            ref=fill.fill_key,
            symbol=fill.symbol,
            item=item,
        )
        for item, amount in charges.items().items()
        if amount
    ]
    return entries


class Ledger:
    """Entries of one account in posting order, with the running cash balance."""

    def __init__(self, entries: Iterable[LedgerEntry] = ()) -> None:
        self._entries: list[LedgerEntry] = []
        self._balance = ZERO
        self._charges = ZERO
        for entry in entries:
            self.post(entry)

    def post(self, entry: LedgerEntry) -> None:
        self._entries.append(entry)
        self._balance += entry.amount
        if entry.kind is EntryKind.CHARGE:
            self._charges -= entry.amount

    def deposit(self, amount: Decimal, ts: datetime, ref: str = "") -> LedgerEntry:
        """Add funds (the initial capital of a paper account is a deposit)."""
        if amount <= 0:
            raise ValueError("a deposit must be positive")
        entry = LedgerEntry(ts=ts, kind=EntryKind.DEPOSIT, amount=amount, ref=ref)
        self.post(entry)
        return entry

    @property
    def balance(self) -> Decimal:
        """Cash: the sum of every entry."""
        return self._balance

    @property
    def total_charges(self) -> Decimal:
        """Sum of all charges paid (a positive number)."""
        return self._charges

    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        return tuple(self._entries)

    def __iter__(self) -> Iterator[LedgerEntry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
