"""Performance of one user's broker account, strategy subscription or portfolio, over a range.

A scope is looked up through the user's repositories first (another user's id is
404), then the cache is asked, keyed by the user, the scope and the request, and
valid while the scope's fills and ledger are unchanged. Otherwise the scope's
fills and ledger flows up to the range's end are read, prices to mark open
positions are read from the tick store, and the report is computed off the event
loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from shared.calendar import Calendar
from shared.contracts import Timeframe
from shared.instruments import InstrumentCatalog, load_catalog
from shared.tickstore import TickStore, TickStoreUnavailable

from .cache import ReportCache
from .marks import candle_marks, last_ticks
from .metrics.curve import CurvePoint, equity_curve
from .metrics.periods import daily_periods, day_start
from .metrics.report import Flag, PerformanceReport, ScopeData, performance
from .metrics.types import CashFlow, FillRecord, Mark
from .ranges import DateRange, calendar_for_currency, invalid, resolve_range
from .repositories import AccountRepository, HistoryRepository, SubscriptionRepository, Version

MAX_POINTS = 20_000
"""Most points an equity curve may have (and candles per symbol it may read)."""
LOOKBACK = timedelta(days=31)
"""How far before the range daily closes are read to mark positions held into it."""
LIVE_WINDOW = timedelta(days=1)
"""A range ending this close to now still moves with new candles and ticks."""
TIMEFRAME_SECONDS = {
    Timeframe.M1: 60,
    Timeframe.M5: 300,
    Timeframe.M15: 900,
    Timeframe.H1: 3600,
    Timeframe.D1: 86_400,
}


class ScopeKind(StrEnum):
    ACCOUNT = "account"
    SUBSCRIPTION = "subscription"
    PORTFOLIO = "portfolio"


@dataclass(frozen=True, slots=True)
class ScopeInfo:
    kind: ScopeKind
    id: int | None
    currency: str
    calendar: str
    broker_account_ids: tuple[int, ...]
    capital: Decimal
    """Starting capital (allocation for a subscription; the sum over a portfolio's accounts)."""


@dataclass(frozen=True, slots=True)
class ReportResult:
    scope: ScopeInfo
    report: PerformanceReport
    as_of: datetime
    last_fill_id: int


@dataclass(frozen=True, slots=True)
class CurveResult:
    scope: ScopeInfo
    start: datetime
    end: datetime
    timeframe: Timeframe
    points: list[CurvePoint]
    flags: list[str]
    as_of: datetime
    last_fill_id: int


@dataclass(frozen=True, slots=True)
class _Scope:
    info: ScopeInfo
    calendar: Calendar
    created: Sequence[tuple[int, datetime, Decimal]]
    """Each account of the scope (or the subscription's), when it was opened and the capital
    it was given."""
    subscription_id: int | None = None


def _held(fills: Sequence[FillRecord], start: datetime, end: datetime) -> dict[str, datetime]:
    """Symbols with a position at some time in ``(start, end]``, and their first fill."""
    first: dict[str, datetime] = {}
    at_start: dict[str, Decimal] = {}
    traded: set[str] = set()
    for f in fills:
        first.setdefault(f.symbol, f.ts)
        if f.ts <= start:
            at_start[f.symbol] = at_start.get(f.symbol, Decimal(0)) + f.signed_quantity
        elif f.ts <= end:
            traded.add(f.symbol)
    open_at_start = {s for s, q in at_start.items() if q}
    return {s: first[s] for s in sorted(traded | open_at_start)}


def _open_at_end(fills: Sequence[FillRecord]) -> list[str]:
    net: dict[str, Decimal] = {}
    for f in fills:
        net[f.symbol] = net.get(f.symbol, Decimal(0)) + f.signed_quantity
    return sorted(s for s, q in net.items() if q)


class PerformanceService:
    """Reports and equity curves of one user's scopes."""

    def __init__(
        self,
        session: AsyncSession,
        user_id: int,
        *,
        now: datetime,
        cache: ReportCache,
        tickstore: TickStore | None = None,
        catalog: InstrumentCatalog | None = None,
        base_currency: str = "INR",
    ) -> None:
        self.session = session
        self.user_id = user_id
        self.now = now
        self.cache = cache
        self.tickstore = tickstore
        self.catalog = catalog if catalog is not None else load_catalog()
        self.base_currency = base_currency
        self.history = HistoryRepository(session, user_id)

    # -- scopes ------------------------------------------------------------------

    async def account_scope(self, account_id: int) -> _Scope:
        account = await AccountRepository(self.session, self.user_id).get(account_id)
        calendar = calendar_for_currency(self.catalog, account.currency)
        info = ScopeInfo(
            ScopeKind.ACCOUNT,
            account.id,
            account.currency,
            calendar.name,
            (account.id,),
            account.starting_capital,
        )
        return _Scope(info, calendar, [(account.id, account.created_at, account.starting_capital)])

    async def subscription_scope(self, subscription_id: int) -> _Scope:
        sub = await SubscriptionRepository(self.session, self.user_id).get(subscription_id)
        account = await AccountRepository(self.session, self.user_id).get(sub.broker_account_id)
        calendar = calendar_for_currency(self.catalog, account.currency)
        info = ScopeInfo(
            ScopeKind.SUBSCRIPTION,
            sub.id,
            account.currency,
            calendar.name,
            (account.id,),
            sub.capital_allocation,
        )
        created = [(account.id, sub.created_at, sub.capital_allocation)]
        return _Scope(info, calendar, created, sub.id)

    async def portfolio_scope(self, currency: str | None) -> _Scope:
        accounts = await AccountRepository(self.session, self.user_id).all()
        currencies = sorted({a.currency for a in accounts})
        if currency is None:
            if len(currencies) > 1:
                raise invalid(
                    f"accounts in {', '.join(currencies)}: choose one with 'currency'",
                    "currency",
                    code="currency_required",
                )
            currency = currencies[0] if currencies else self.base_currency
        chosen = [a for a in accounts if a.currency == currency]
        calendar = calendar_for_currency(self.catalog, currency)
        info = ScopeInfo(
            ScopeKind.PORTFOLIO,
            None,
            currency,
            calendar.name,
            tuple(a.id for a in chosen),
            sum((a.starting_capital for a in chosen), Decimal(0)),
        )
        return _Scope(info, calendar, [(a.id, a.created_at, a.starting_capital) for a in chosen])

    # -- results -----------------------------------------------------------------

    async def report(self, scope: _Scope, when: DateRange) -> ReportResult:
        """The scope's performance report over ``when``."""
        version = await self._version(scope)
        key = self._key("report", scope, when)
        cached = self._cached(key, version)
        if isinstance(cached, ReportResult):
            return cached
        fills, flows = await self._history(scope)
        start, end = resolve_range(when, scope.calendar, self._opened(scope, flows), self.now)
        fills = [f for f in fills if f.ts <= end]
        marks, flags = await self._marks(fills, start, end, None)
        data = ScopeData(scope.calendar, _until(flows, end), fills, marks)
        report = await asyncio.to_thread(performance, data, start, end)
        report.flags.extend(flags)
        result = ReportResult(scope.info, report, self.now, version.last_fill_id)
        self._store(key, version, result, end, flags)
        return result

    async def curve(self, scope: _Scope, when: DateRange, timeframe: Timeframe) -> CurveResult:
        """The scope's equity marked at each ``timeframe`` candle close, fill and day's end."""
        version = await self._version(scope)
        key = self._key(f"curve:{timeframe.value}", scope, when)
        cached = self._cached(key, version)
        if isinstance(cached, CurveResult):
            return cached
        fills, flows = await self._history(scope)
        start, end = resolve_range(when, scope.calendar, self._opened(scope, flows), self.now)
        step = TIMEFRAME_SECONDS[timeframe]
        if timeframe is not Timeframe.D1 and (end - start).total_seconds() / step > MAX_POINTS:
            longest = timedelta(seconds=step * MAX_POINTS)
            raise invalid(
                f"at most {longest.days} days of {timeframe.value} points; "
                "ask for a shorter range or a longer timeframe",
                "to",
                code="range_too_long",
            )
        fills = [f for f in fills if f.ts <= end]
        marks, flags = await self._marks(fills, start, end, timeframe)
        moments = {start, end, *(p.end for p in daily_periods(scope.calendar, start, end))}
        moments.update(f.ts for f in fills if f.ts > start)
        moments.update(m.ts for m in marks if m.ts > start)
        if len(moments) > MAX_POINTS:
            raise invalid(
                f"{len(moments)} points in the range, at most {MAX_POINTS}: "
                "ask for a shorter range or a longer timeframe",
                "to",
                code="range_too_long",
            )
        points = await asyncio.to_thread(
            equity_curve, sorted(moments), _until(flows, end), fills, marks
        )
        result = CurveResult(
            scope.info, start, end, timeframe, points, flags, self.now, version.last_fill_id
        )
        self._store(key, version, result, end, flags)
        return result

    # -- helpers -----------------------------------------------------------------

    async def _version(self, scope: _Scope) -> Version:
        # Read before the data: a fill landing in between only makes the entry stale sooner.
        return await self.history.version(
            scope.info.broker_account_ids, subscription_id=scope.subscription_id
        )

    def _opened(self, scope: _Scope, flows: Sequence[CashFlow]) -> datetime:
        """When the scope got its capital (today's start for a portfolio with no account)."""
        if scope.created:
            return min(f.ts for f in flows if f.external)
        return day_start(scope.calendar, self.now.astimezone(scope.calendar.tz).date())

    def _key(self, what: str, scope: _Scope, when: DateRange) -> Hashable:
        info = scope.info
        return (
            self.user_id,
            what,
            info.kind,
            info.id,
            info.currency,
            info.capital,
            info.broker_account_ids,
            when,
        )

    def _cached(self, key: Hashable, version: Version) -> object | None:
        return self.cache.get(key, version, self.now)

    def _store(
        self, key: Hashable, version: Version, value: object, end: datetime, flags: list[str]
    ) -> None:
        if Flag.PRICES_UNAVAILABLE in flags:
            return  # computed without prices: ask again next time
        live = end >= self.now - LIVE_WINDOW
        self.cache.put(key, version, self.now, value, live=live)

    async def _history(self, scope: _Scope) -> tuple[list[FillRecord], list[CashFlow]]:
        """All fills and flows of the scope, up to now."""
        ids = scope.info.broker_account_ids
        fills = await self.history.fills(ids, self.now, subscription_id=scope.subscription_id)
        first: dict[int, datetime] = {}
        for f in fills:
            first.setdefault(f.account_id, f.ts)
        # The capital is there before the first fill, also where event time runs behind the
        # rows' creation times (a replay, a simulated clock).
        flows = [
            CashFlow(min(ts, first.get(account_id, ts)), amount, True)
            for account_id, ts, amount in scope.created
        ]
        if scope.subscription_id is None:
            flows += await self.history.flows(ids, self.now)
        return fills, flows

    async def _marks(
        self,
        fills: Sequence[FillRecord],
        start: datetime,
        end: datetime,
        timeframe: Timeframe | None,
    ) -> tuple[list[Mark], list[str]]:
        held = _held(fills, start, end)
        if not held or self.tickstore is None:
            return [], []
        days = (end - start).days + LOOKBACK.days + 3
        # Candles are selected by their start: one that opened before the first fill (or the
        # range) may close after it and mark it.
        day = timedelta(days=1)
        try:
            daily = {s: max(first, start - LOOKBACK) - day for s, first in held.items()}
            marks = await candle_marks(self.tickstore, daily, Timeframe.D1, end, days)
            if timeframe is not None and timeframe is not Timeframe.D1:
                bar = timedelta(seconds=TIMEFRAME_SECONDS[timeframe])
                since = {s: max(first, start) - bar for s, first in held.items()}
                marks += await candle_marks(self.tickstore, since, timeframe, end, MAX_POINTS + 1)
            if end >= self.now - LIVE_WINDOW:
                marks += await last_ticks(self.tickstore, _open_at_end(fills), end)
        except TickStoreUnavailable:
            return [], [Flag.PRICES_UNAVAILABLE]
        return marks, []


def _until(flows: Sequence[CashFlow], end: datetime) -> list[CashFlow]:
    return [f for f in flows if f.ts <= end]
