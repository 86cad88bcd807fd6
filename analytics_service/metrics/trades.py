"""Round trips from fills, and the statistics of closed round trips.

A round trip in one (account, symbol, product) starts with the fill that moves
the position away from flat and ends with the fill that brings it back to flat.
Fills in the same direction scale in, fills against it scale out; a fill that
goes through flat (a long of 5 sold by 8) closes the trip with the part it needs
and opens the next trip, in the other direction, with the rest; its charges are
split in the same proportion.

A trip's gross P&L is the sum of its cash flows (what the exits brought in minus
what the entries cost, or the reverse for a short), which does not depend on the
cost method; its net P&L takes off the charges of its fills.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np

from shared.contracts import Side

from .types import FillRecord

ZERO = Decimal(0)
MONEY_SCALE = Decimal("0.00000001")  # the scale money is stored at


def money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_SCALE)


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One closed round trip (``exit_time`` None: still open at the end of the data)."""

    account_id: int
    symbol: str
    product: str
    side: Side
    """BUY for a long trip, SELL for a short one."""
    quantity: Decimal
    entry_time: datetime
    entry_price: Decimal
    exit_time: datetime | None
    exit_price: Decimal | None
    gross_pnl: Decimal
    charges: Decimal
    fills: int

    @property
    def net_pnl(self) -> Decimal:
        return self.gross_pnl - self.charges

    @property
    def return_fraction(self) -> float | None:
        """Net P&L over the entry notional."""
        notional = self.quantity * self.entry_price
        return float(self.net_pnl / notional) if notional else None

    @property
    def holding_seconds(self) -> float | None:
        if self.exit_time is None:
            return None
        return (self.exit_time - self.entry_time).total_seconds()


@dataclass(slots=True)
class _Open:
    side: Side
    entry_time: datetime
    entry_qty: Decimal = ZERO
    entry_notional: Decimal = ZERO
    exit_qty: Decimal = ZERO
    exit_notional: Decimal = ZERO
    cash: Decimal = ZERO
    charges: Decimal = ZERO
    fills: int = 0

    def enter(self, quantity: Decimal, price: Decimal, charges: Decimal) -> None:
        self.entry_qty += quantity
        self.entry_notional += quantity * price
        sign = -1 if self.side is Side.BUY else 1  # a long pays for its entries
        self.cash += sign * quantity * price
        self.charges += charges
        self.fills += 1

    def leave(self, quantity: Decimal, price: Decimal, charges: Decimal) -> None:
        self.exit_qty += quantity
        self.exit_notional += quantity * price
        sign = 1 if self.side is Side.BUY else -1
        self.cash += sign * quantity * price
        self.charges += charges
        self.fills += 1

    def trip(self, key: tuple[int, str, str], exit_time: datetime | None) -> RoundTrip:
        account_id, symbol, product = key
        return RoundTrip(
            account_id=account_id,
            symbol=symbol,
            product=product,
            side=self.side,
            quantity=self.entry_qty,
            entry_time=self.entry_time,
            entry_price=money(self.entry_notional / self.entry_qty),
            exit_time=exit_time,
            exit_price=money(self.exit_notional / self.exit_qty) if self.exit_qty else None,
            gross_pnl=money(self.cash) if exit_time is not None else ZERO,
            charges=money(self.charges),
            fills=self.fills,
        )


@dataclass
class RoundTrips:
    closed: list[RoundTrip] = field(default_factory=list)
    """Closed trips, in the order they closed."""
    open: list[RoundTrip] = field(default_factory=list)
    """Trips still open after the last fill (no exit, P&L not realised)."""


def round_trips(fills: Iterable[FillRecord]) -> RoundTrips:
    """Every round trip of ``fills`` (any order; they are taken by time, then id)."""
    ordered = sorted(fills, key=lambda f: (f.ts, f.id))
    position: dict[tuple[int, str, str], Decimal] = {}
    current: dict[tuple[int, str, str], _Open] = {}
    out = RoundTrips()
    for f in ordered:
        key = (f.account_id, f.symbol, f.product)
        pos = position.get(key, ZERO)
        signed = f.signed_quantity
        if pos == 0 or (pos > 0) == (signed > 0):
            trip = current.get(key) or _Open(f.side, f.ts)
            trip.enter(f.quantity, f.price, f.charges)
            current[key] = trip
            position[key] = pos + signed
            continue
        trip = current[key]
        closing = min(f.quantity, abs(pos))
        part_charges = (
            f.charges if closing == f.quantity else money(f.charges * closing / f.quantity)
        )
        trip.leave(closing, f.price, part_charges)
        pos += closing if signed > 0 else -closing
        position[key] = pos
        if pos != 0:
            continue
        out.closed.append(trip.trip(key, f.ts))
        del current[key]
        rest = f.quantity - closing
        if rest:
            reopened = _Open(f.side, f.ts)
            reopened.enter(rest, f.price, f.charges - part_charges)
            current[key] = reopened
            position[key] = signed - (closing if signed > 0 else -closing)
    out.open = [trip.trip(key, None) for key, trip in current.items()]
    return out


MIN_TRADES = 30
"""Fewer closed trips than this and the trade statistics are flagged as resting on too few
trades (the usual rule of thumb for the SQN and for win rates)."""


@dataclass(frozen=True, slots=True)
class TradeStats:
    """Statistics of closed round trips, on their net P&L (after charges)."""

    count: int
    open_trades: int
    wins: int
    losses: int
    breakeven: int
    win_rate: float | None
    profit_factor: float | None
    gross_profit: Decimal
    gross_loss: Decimal
    net_pnl: Decimal
    charges: Decimal
    average_win: Decimal | None
    average_loss: Decimal | None
    expectancy: Decimal | None
    sqn: float | None
    average_holding_seconds: float | None
    best: RoundTrip | None
    worst: RoundTrip | None

    @property
    def few_trades(self) -> bool:
        return self.count < MIN_TRADES


def sqn(pnl: Sequence[float]) -> float:
    """System quality number: square root of the trade count times mean over sample deviation
    of the trades' P&L (nan with fewer than two trades or no deviation)."""
    values = np.asarray(pnl, dtype=np.float64)
    if len(values) < 2:
        return math.nan
    std = float(np.std(values, ddof=1))
    if std == 0:
        return math.nan
    return math.sqrt(len(values)) * float(np.mean(values)) / std


def trade_stats(trips: Sequence[RoundTrip], open_trades: int = 0) -> TradeStats:
    """Statistics of ``trips`` (closed round trips)."""
    net = [t.net_pnl for t in trips]
    wins = [p for p in net if p > 0]
    losses = [p for p in net if p < 0]
    gross_profit = sum(wins, ZERO)
    gross_loss = sum(losses, ZERO)
    count = len(trips)
    holding = [t.holding_seconds or 0.0 for t in trips]
    quality = sqn([float(p) for p in net])
    return TradeStats(
        count=count,
        open_trades=open_trades,
        wins=len(wins),
        losses=len(losses),
        breakeven=count - len(wins) - len(losses),
        win_rate=len(wins) / count if count else None,
        profit_factor=float(gross_profit / -gross_loss) if gross_loss else None,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        net_pnl=sum(net, ZERO),
        charges=sum((t.charges for t in trips), ZERO),
        average_win=money(gross_profit / len(wins)) if wins else None,
        average_loss=money(gross_loss / len(losses)) if losses else None,
        expectancy=money(sum(net, ZERO) / count) if count else None,
        sqn=None if math.isnan(quality) else quality,
        average_holding_seconds=float(np.mean(holding)) if count else None,
        best=max(trips, key=lambda t: t.net_pnl) if trips else None,
        worst=min(trips, key=lambda t: t.net_pnl) if trips else None,
    )
