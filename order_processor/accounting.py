"""What an account looks like now: the risk chain's ``AccountView`` and the account summary.

Both come from the same sources: the account model (``domain.account.Account``,
fed the account's fills by ``EquityBooks``), its open orders, its halts, and
last prices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from order_processor.catalog import TradingCatalog
from order_processor.domain.account import Account
from order_processor.domain.money import ZERO
from order_processor.domain.orders import Order
from order_processor.domain.risk import AccountView, PositionView, WorkingOrderView, WorkingTotals
from order_processor.equity import EquityBooks, EquityTracker
from order_processor.prices import LastPrices
from order_processor.repositories.control import HaltRepository
from order_processor.repositories.orders import OrderRepository
from shared.contracts import Side
from shared.models import BrokerAccount, Position

RATE_WINDOW = timedelta(seconds=2)  # at least the order-rate check's one second


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """One broker account marked at the last prices."""

    broker_account_id: int
    currency: str
    starting_capital: Decimal
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
    as_of: datetime


class MarkedPosition:
    """A stored position with the last price it is marked at (None: no price known)."""

    __slots__ = ("mark", "row")

    def __init__(self, row: Position, mark: Decimal | None) -> None:
        self.row = row
        self.mark = mark

    @property
    def price(self) -> Decimal:
        return self.mark if self.mark is not None else self.row.average_price

    @property
    def market_value(self) -> Decimal:
        return self.row.quantity * self.price

    @property
    def unrealised_pnl(self) -> Decimal:
        return self.row.quantity * (self.price - self.row.average_price)


class AccountReader:
    """Builds risk views and summaries; holds the process's equity trackers and prices."""

    def __init__(
        self,
        catalog: TradingCatalog,
        prices: LastPrices,
        books: EquityBooks | None = None,
    ) -> None:
        self.catalog = catalog
        self.prices = prices
        self.books = books if books is not None else EquityBooks()

    async def tracker(self, session: AsyncSession, account: BrokerAccount) -> EquityTracker:
        return await self.books.refresh(session, account)

    def forget(self, account_id: int) -> None:
        """Drop what is cached of a closed or deleted account."""
        self.books.evict(account_id)

    async def risk_view(
        self, session: AsyncSession, account: BrokerAccount, order: Order, now: datetime
    ) -> AccountView:
        """The view the risk chain checks ``order`` against (call under the account lock)."""
        user_id = account.user_id
        model = await self.tracker(session, account)
        orders = OrderRepository(session, user_id)
        working = [
            WorkingOrderView(symbol, Side(side), remaining, price)
            for symbol, side, remaining, price in await orders.open_terms(
                account.id, exclude_id=order.order_id
            )
        ]
        halts = await HaltRepository(session).scopes_halting(user_id)
        recent = await orders.submit_times(account.id, now - RATE_WINDOW)
        return await self.view_of(model, order, now, working, recent, halts)

    async def view_of(
        self,
        model: Account,
        order: Order,
        now: datetime,
        working: Sequence[WorkingOrderView],
        recent: Sequence[datetime],
        halts: Iterable[int | None],
        totals: WorkingTotals | None = None,
    ) -> AccountView:
        """The risk view from what was read of the account: its model, its other working
        orders (and their ``totals`` when the caller keeps them), when its orders were sent
        lately, and the scopes of the halts that stop it (None: the global halt)."""
        positions = self._net_positions(model)
        totals = totals if totals is not None else WorkingTotals(working)
        marks = await self.prices.fetch({order.symbol, *positions, *totals.symbols()})
        equity = model.equity(marks)
        instrument = self.catalog.instrument(order.symbol)
        scopes = list(halts)
        return AccountView(
            now=now,
            equity=equity,
            cash=model.cash,
            start_of_day_equity=model.start_of_day(now),
            start_of_week_equity=model.start_of_week(now),
            peak_equity=model.peak(equity),
            instrument=instrument,
            calendar=instrument.calendar(),
            positions=positions,
            working_orders=working,
            working_totals=totals,
            last_price=marks.get,
            recent_order_times=recent,
            user_halted=any(scope is not None for scope in scopes),
            global_halted=any(scope is None for scope in scopes),
        )

    async def summary(
        self, session: AsyncSession, account: BrokerAccount, now: datetime
    ) -> AccountSummary:
        model = await self.tracker(session, account)
        marks = await self.prices.fetch(p.symbol for p in model.positions.open_positions())
        return AccountSummary(
            broker_account_id=account.id,
            currency=account.currency,
            starting_capital=account.starting_capital,
            as_of=now,
            **asdict(model.valuation(marks, now)),
        )

    def _net_positions(self, model: Account) -> dict[str, PositionView]:
        """Open positions netted per symbol over products, as the risk checks see them (made
        once per fill booked: every order of a batch asks)."""
        return model.kept("net_positions", lambda: self._netted(model))

    def _netted(self, model: Account) -> dict[str, PositionView]:
        qty: dict[str, Decimal] = {}
        cost: dict[str, Decimal] = {}
        for p in model.positions.open_positions():
            qty[p.symbol] = qty.get(p.symbol, ZERO) + p.quantity
            cost[p.symbol] = cost.get(p.symbol, ZERO) + p.cost
        views = {}
        for symbol, q in qty.items():
            if q == 0:
                continue
            known = symbol in self.catalog
            sector = (self.catalog.instrument(symbol).sector or None) if known else None
            views[symbol] = PositionView(symbol, q, cost[symbol] / q, sector)
        return views
