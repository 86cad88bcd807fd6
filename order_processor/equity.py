"""Each account's fills replayed in order: exact positions, cash, and book equity over time.

The risk checks need start-of-day, start-of-week and peak equity, and there is
no snapshot table; they are derived from the fills instead. After every fill
the account's *book equity* (cash plus open positions at cost, which equals the
starting capital plus realised P&L minus charges) is recorded as a checkpoint:

- start-of-day equity = book equity after the last fill before today's start
  (00:00 IST), or the starting capital;
- start-of-week equity = the same at Monday 00:00 IST;
- peak equity = the highest book equity ever recorded, or the current marked
  equity if that is higher.

Positions carried overnight therefore enter the day at cost, not at the
previous close (exact for intraday trading, conservative for delivery).

Trackers are kept per process and brought up to date incrementally (fills with
an id above the last one seen); fills of one account are inserted under the
account lock, so their ids grow in commit order and none is skipped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from order_processor.domain.fills import Fill
from order_processor.domain.money import ZERO
from order_processor.domain.positions import PositionBook
from order_processor.repositories.book import FillRepository
from shared.calendar import IST
from shared.contracts import Product, Side

KEEP_DAYS = 9  # enough history for the start of the week


def day_start(now: datetime) -> datetime:
    """Midnight IST of ``now``'s day (the platform's trading day boundary)."""
    return datetime.combine(now.astimezone(IST).date(), time(0), IST)


def week_start(now: datetime) -> datetime:
    """Monday midnight IST of ``now``'s week."""
    start = day_start(now)
    return start - timedelta(days=start.weekday())


class EquityTracker:
    """One account: positions at exact cost, cash, charges and book-equity checkpoints."""

    def __init__(self, starting_capital: Decimal) -> None:
        self.starting_capital = starting_capital
        self.book = PositionBook()
        self.last_fill_id = 0
        self.flows = ZERO
        self.charges = ZERO
        self.peak_book_equity = starting_capital
        self._checkpoints: list[tuple[datetime, Decimal]] = []
        self._floor = starting_capital  # book equity before the oldest checkpoint kept

    def apply(
        self,
        fill_id: int,
        *,
        symbol: str,
        side: Side,
        product: Product,
        quantity: Decimal,
        price: Decimal,
        charges: Decimal,
        ts: datetime,
    ) -> None:
        """Book one stored fill; fills at or below the last id seen are ignored."""
        if fill_id <= self.last_fill_id:
            return
        fill = Fill(
            user_id=0,
            client_order_id="",
            seq=fill_id,
            symbol=symbol,
            side=side,
            product=product,
            quantity=quantity,
            price=price,
            ts=ts,
        )
        self.book.apply_fill(fill)
        self.flows += fill.cash_flow
        self.charges += charges
        self.last_fill_id = fill_id
        equity = self.book_equity
        self.peak_book_equity = max(self.peak_book_equity, equity)
        self._checkpoints.append((ts, equity))
        self._trim(ts)

    @property
    def cash(self) -> Decimal:
        return self.starting_capital + self.flows - self.charges

    @property
    def book_equity(self) -> Decimal:
        """Starting capital plus realised P&L minus charges (cash plus positions at cost)."""
        return self.starting_capital + self.book.realised_pnl - self.charges

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Cash plus open positions at ``marks`` (unmarked ones at cost)."""
        return self.cash + self.book.market_value(marks)

    def book_equity_before(self, ts: datetime) -> Decimal:
        """Book equity after the last fill before ``ts``."""
        for at, equity in reversed(self._checkpoints):
            if at < ts:
                return equity
        return self._floor

    def start_of_day(self, now: datetime) -> Decimal:
        return self.book_equity_before(day_start(now))

    def start_of_week(self, now: datetime) -> Decimal:
        return self.book_equity_before(week_start(now))

    def peak(self, current_equity: Decimal) -> Decimal:
        return max(self.peak_book_equity, current_equity)

    def _trim(self, latest: datetime) -> None:
        cutoff = latest - timedelta(days=KEEP_DAYS)
        drop = 0
        while drop < len(self._checkpoints) - 1 and self._checkpoints[drop][0] < cutoff:
            drop += 1
        if drop:
            # The last dropped checkpoint stays the answer for any time before the rest.
            self._floor = self._checkpoints[drop - 1][1]
            del self._checkpoints[:drop]


class EquityBooks:
    """Trackers of many accounts, at most ``max_accounts`` kept (least recently used dropped)."""

    def __init__(self, max_accounts: int = 10_000) -> None:
        self.max_accounts = max_accounts
        self._trackers: OrderedDict[int, EquityTracker] = OrderedDict()

    async def refresh(
        self, session: AsyncSession, user_id: int, account_id: int, starting_capital: Decimal
    ) -> EquityTracker:
        """The account's tracker with every committed fill booked."""
        tracker = self._trackers.get(account_id)
        if tracker is None or tracker.starting_capital != starting_capital:
            tracker = EquityTracker(starting_capital)
            self._trackers[account_id] = tracker
            while len(self._trackers) > self.max_accounts:
                self._trackers.popitem(last=False)
        else:
            self._trackers.move_to_end(account_id)
        for fill, product in await FillRepository(session, user_id).after(
            account_id, tracker.last_fill_id
        ):
            tracker.apply(
                fill.id,
                symbol=fill.symbol,
                side=Side(fill.side),
                product=Product(product),
                quantity=fill.quantity,
                price=fill.price,
                charges=fill.charges,
                ts=fill.ts,
            )
        return tracker
