"""The analytics service's application interface: the one module other packages import.

``Analytics`` answers one user's questions about performance: the metrics report,
the marked equity curve and the closed round trips of a broker account, a strategy
subscription, or all the user's accounts in one currency, over a date range. It
reads in the caller's session and never writes. Results are kept in a
``ReportCache`` the caller holds for the process (one per gateway), refreshed when
the scope's fills or ledger change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service.cache import ReportCache
from analytics_service.metrics.curve import CurvePoint
from analytics_service.metrics.report import (
    DayResult,
    Drawdown,
    Flag,
    MonthResult,
    PerformanceReport,
    PeriodStats,
)
from analytics_service.metrics.trades import RoundTrip, TradeStats
from analytics_service.ranges import DateRange
from analytics_service.service import (
    MAX_POINTS,
    CurveResult,
    PerformanceService,
    ReportResult,
    ScopeInfo,
    ScopeKind,
)
from shared.contracts import Timeframe
from shared.tickstore import TickStore

__all__ = [
    "MAX_POINTS",
    "Analytics",
    "CurvePoint",
    "CurveResult",
    "DateRange",
    "DayResult",
    "Drawdown",
    "Flag",
    "MonthResult",
    "PerformanceReport",
    "PeriodStats",
    "ReportCache",
    "ReportResult",
    "RoundTrip",
    "ScopeInfo",
    "ScopeKind",
    "TradeStats",
]


class Analytics:
    """One user's performance figures; every id is looked up as that user's (404 if not)."""

    def __init__(
        self,
        session: AsyncSession,
        user_id: int,
        *,
        now: datetime,
        cache: ReportCache,
        tickstore: TickStore | None = None,
        base_currency: str = "INR",
    ) -> None:
        self._service = PerformanceService(
            session,
            user_id,
            now=now,
            cache=cache,
            tickstore=tickstore,
            base_currency=base_currency,
        )

    async def account_report(self, account_id: int, when: DateRange) -> ReportResult:
        service = self._service
        return await service.report(await service.account_scope(account_id), when)

    async def subscription_report(self, subscription_id: int, when: DateRange) -> ReportResult:
        service = self._service
        return await service.report(await service.subscription_scope(subscription_id), when)

    async def portfolio_report(self, currency: str | None, when: DateRange) -> ReportResult:
        """All the user's accounts in ``currency`` (None: the one currency they have)."""
        service = self._service
        return await service.report(await service.portfolio_scope(currency), when)

    async def account_curve(
        self, account_id: int, when: DateRange, timeframe: Timeframe
    ) -> CurveResult:
        service = self._service
        return await service.curve(await service.account_scope(account_id), when, timeframe)

    async def subscription_curve(
        self, subscription_id: int, when: DateRange, timeframe: Timeframe
    ) -> CurveResult:
        service = self._service
        scope = await service.subscription_scope(subscription_id)
        return await service.curve(scope, when, timeframe)

    async def portfolio_curve(
        self, currency: str | None, when: DateRange, timeframe: Timeframe
    ) -> CurveResult:
        service = self._service
        return await service.curve(await service.portfolio_scope(currency), when, timeframe)
