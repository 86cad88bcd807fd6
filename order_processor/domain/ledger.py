"""The cash ledger: every flow of money in or out of an account, as an append-only entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from .charges import ChargeBreakdown
from .fills import Fill
from .quick import quick_init


class EntryKind(StrEnum):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    FILL = "FILL"
    CHARGE = "CHARGE"
    ADJUSTMENT = "ADJUSTMENT"


@quick_init
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
