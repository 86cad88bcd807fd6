"""Small builders of fills, flows and marks for the metrics tests."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from analytics_service.metrics.types import CashFlow, FillRecord, Mark
from shared.contracts import Side

_ids = itertools.count(1)


def fill(
    ts: datetime,
    side: str,
    quantity: str | int,
    price: str | int,
    *,
    symbol: str = "INFY",
    charges: str | int = 0,
    product: str = "MIS",
    account_id: int = 1,
) -> FillRecord:
    return FillRecord(
        id=next(_ids),
        ts=ts,
        account_id=account_id,
        symbol=symbol,
        product=product,
        side=Side(side),
        quantity=Decimal(quantity),
        price=Decimal(price),
        charges=Decimal(charges),
    )


def capital(ts: datetime, amount: str | int) -> CashFlow:
    return CashFlow(ts, Decimal(amount), external=True)


def mark(ts: datetime, price: float, symbol: str = "INFY") -> Mark:
    return Mark(symbol, ts, price)
