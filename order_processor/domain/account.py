"""The account model: one broker account's fills turned into positions, cash, charges and equity.

This is the only place that does it. The order processor books every stored
fill of an account into an ``Account`` (``order_processor.equity``) and reads
the risk view and the account summary from it; the booking of a new fill
``settle``s it by the same rules before writing the fill, position and ledger
rows; a backtest drives an ``Account`` directly with ``trade``.

Cash is the starting capital plus every fill's cash flow minus every charge,
which is also the starting capital plus the sum of the stored ledger.

Equity history: after every fill the *book equity* (cash plus open positions
at cost, i.e. starting capital plus realised P&L minus charges) is recorded:

- start-of-day equity = book equity after the last fill before today's start
  (00:00 IST), or the starting capital;
- start-of-week equity = the same at Monday 00:00 IST;
- peak equity = the highest book equity ever recorded, or the current marked
  equity if that is higher.

Positions carried overnight therefore enter the day at cost, not at the
previous close (exact for intraday trading, conservative for delivery).

Margin rule (deliberately simple): margin used is the full notional of every
open position at its mark, for CNC and MIS alike (intraday leverage is not
extended), and free margin is equity minus margin used.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from shared.calendar import IST

from .charges import ChargeBreakdown, FeeModel, charges_for_fill
from .fills import Fill
from .ledger import LedgerEntry, fill_entries
from .money import ZERO
from .positions import Position, PositionBook
from .quick import quick_init

_V = TypeVar("_V")

KEEP_DAYS = 9  # enough equity history for the start of the week


_DAY = timedelta(days=1)
_last_day: tuple[datetime, datetime] | None = None  # (midnight IST, the next one)


def day_start(now: datetime) -> datetime:
    """Midnight IST of ``now``'s day (the platform's trading day boundary)."""
    global _last_day
    # Every order's risk view asks (twice); the day's bounds are kept so that a time within
    # them costs two comparisons instead of a time-zone conversion. IST has no DST: a day
    # is always 24 hours.
    last = _last_day
    if last is not None and now.tzinfo is not None and last[0] <= now < last[1]:
        return last[0]
    start = datetime.combine(now.astimezone(IST).date(), time(0), IST)
    if now.tzinfo is not None:
        _last_day = (start, start + _DAY)
    return start


def week_start(now: datetime) -> datetime:
    """Monday midnight IST of ``now``'s week."""
    start = day_start(now)
    return start - timedelta(days=start.weekday())


@quick_init
@dataclass(frozen=True, slots=True)
class Settlement:
    """What one fill does: its charges, the position after it, the P&L it realised, its entries."""

    fill: Fill
    charges: ChargeBreakdown
    position: Position
    realised_pnl: Decimal
    entries: tuple[LedgerEntry, ...]


def settle(fill: Fill, position: Position, fee_model: FeeModel) -> Settlement:
    """Price ``fill``'s charges with ``fee_model`` and apply it to ``position`` (same key)."""
    charges = charges_for_fill(fee_model, fill)
    after, realised = position.apply(fill.signed_quantity, fill.price)
    return Settlement(fill, charges, after, realised, tuple(fill_entries(fill, charges)))


@dataclass(frozen=True, slots=True)
class Valuation:
    """The account marked at a set of prices.

    ``equity = cash + market_value`` and
    ``realised + unrealised - charges = equity - starting capital``.
    """

    cash: Decimal
    market_value: Decimal
    equity: Decimal
    margin_used: Decimal
    free_margin: Decimal
    realised_pnl: Decimal
    unrealised_pnl: Decimal
    charges: Decimal
    start_of_day_equity: Decimal
    day_pnl: Decimal
    open_positions: int


class Account:
    """Positions, cash, charges and book-equity history of one broker account."""

    def __init__(self, starting_capital: Decimal) -> None:
        self.starting_capital = starting_capital
        self.positions = PositionBook()
        self.flows = ZERO  # cash flows of all fills, before charges
        self.charges = ZERO
        self.peak_book_equity = starting_capital
        self._checkpoints: list[tuple[datetime, Decimal]] = []
        self._times: list[datetime] = []  # the checkpoints' times, for bisection
        self._in_order = True  # whether the checkpoints' times never go back
        self._floor = starting_capital  # book equity before the oldest checkpoint kept
        self._kept: dict[Hashable, Any] = {}
        """Values derived from the fills booked so far (``kept``); emptied by the next fill."""

    def trade(self, fill: Fill, fee_model: FeeModel) -> Settlement:
        """Price ``fill``'s charges with ``fee_model`` and book it."""
        settlement = settle(fill, self.positions.get(fill.symbol, fill.product), fee_model)
        self.book_fill(fill, settlement.charges.total)
        return settlement

    def book_fill(self, fill: Fill, charges: Decimal) -> Position:
        """Book a fill whose charges are priced already (a stored fill); the position after it."""
        position, _ = self.positions.apply_fill(fill)
        self._kept.clear()
        self.flows += fill.cash_flow
        self.charges += charges
        equity = self.book_equity
        self.peak_book_equity = max(self.peak_book_equity, equity)
        if self._times and fill.ts < self._times[-1]:
            self._in_order = False
        self._checkpoints.append((fill.ts, equity))
        self._times.append(fill.ts)
        self._trim(fill.ts)
        return position

    @property
    def cash(self) -> Decimal:
        return self.starting_capital + self.flows - self.charges

    @property
    def book_equity(self) -> Decimal:
        """Starting capital plus realised P&L minus charges (cash plus positions at cost)."""
        return self.starting_capital + self.positions.realised_pnl - self.charges

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Cash plus open positions at ``marks`` (unmarked ones at cost)."""
        return self.cash + self.positions.market_value(marks)

    def book_equity_before(self, ts: datetime) -> Decimal:
        """Book equity after the last fill before ``ts``."""
        if self._in_order:  # fills come in time order: bisect (a long day has many)
            if ts.tzinfo is not None and ts.tzinfo is not UTC:
                # Fill times are UTC: times of one zone compare without asking the zone for
                # its offset at each step (an IST midnight against them cost 20 times more).
                ts = ts.astimezone(UTC)
            i = bisect_left(self._times, ts)
            return self._checkpoints[i - 1][1] if i else self._floor
        for at, equity in reversed(self._checkpoints):
            if at < ts:
                return equity
        return self._floor

    def kept(self, key: Hashable, make: Callable[[], _V]) -> _V:
        """``make()``, a value derived from the fills booked so far, made once until the next
        fill (the risk view of every order of a batch asks the same of its account)."""
        try:
            found: _V = self._kept[key]
        except KeyError:
            found = self._kept[key] = make()
        return found

    def start_of_day(self, now: datetime) -> Decimal:
        start = day_start(now)
        return self.kept(("before", start), lambda: self.book_equity_before(start))

    def start_of_week(self, now: datetime) -> Decimal:
        start = week_start(now)
        return self.kept(("before", start), lambda: self.book_equity_before(start))

    def peak(self, current_equity: Decimal) -> Decimal:
        return max(self.peak_book_equity, current_equity)

    def valuation(self, marks: Mapping[str, Decimal], now: datetime) -> Valuation:
        """The account at ``marks`` (unmarked positions at cost); day P&L as of ``now``."""
        open_positions = self.positions.open_positions()
        market_value = self.positions.market_value(marks)
        equity = self.cash + market_value
        margin = sum(
            (abs(p.market_value(marks.get(p.symbol, p.average_price))) for p in open_positions),
            ZERO,
        )
        start_of_day = self.start_of_day(now)
        return Valuation(
            cash=self.cash,
            market_value=market_value,
            equity=equity,
            margin_used=margin,
            free_margin=equity - margin,
            realised_pnl=self.positions.realised_pnl,
            unrealised_pnl=self.positions.unrealised_pnl(marks),
            charges=self.charges,
            start_of_day_equity=start_of_day,
            day_pnl=equity - start_of_day,
            open_positions=len(open_positions),
        )

    def _trim(self, latest: datetime) -> None:
        cutoff = latest - timedelta(days=KEEP_DAYS)
        drop = 0
        while drop < len(self._checkpoints) - 1 and self._checkpoints[drop][0] < cutoff:
            drop += 1
        if drop:
            # The last dropped checkpoint stays the answer for any time before the rest.
            self._floor = self._checkpoints[drop - 1][1]
            del self._checkpoints[:drop]
            del self._times[:drop]
