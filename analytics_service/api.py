"""The analytics service's application interface: the one module other packages import.

``BacktestService`` holds one user's backtest runs (submit, list, read, cancel, delete);
a ``Launcher`` from ``launcher_from_settings`` runs them (in this process, or as Celery
tasks in the distributed profile).

``Analytics`` answers one user's questions about performance: the metrics report,
the marked equity curve and the closed round trips of a broker account, a strategy
subscription, or all the user's accounts in one currency, over a date range. It
reads in the caller's session and never writes. Results are kept in a
``ReportCache`` the caller holds for the process (one per gateway), refreshed when
the scope's fills or ledger change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics_service.alerts.consumer import AlertConsumer
from analytics_service.alerts.delivery import DeliveryWorker
from analytics_service.alerts.price_watch import PriceWatcher
from analytics_service.alerts.rules import backtest_finished as backtest_finished_alert
from analytics_service.alerts.service import (
    AlertFilter,
    AlertsService,
    AlertStats,
    AlertView,
    ChannelSpec,
    ChannelView,
    PriceAlertSpec,
    TestResult,
    purge_history,
)
from analytics_service.alerts.store import Recorded
from analytics_service.alerts.store import push as push_alerts
from analytics_service.alerts.store import record as record_alerts
from analytics_service.backtest import (
    BacktestRequest,
    BacktestSettings,
    Direction,
    FillAt,
    RiskLimits,
)
from analytics_service.backtest.walkforward import WalkForwardSpec
from analytics_service.backtests import (
    ACTIVE,
    BACKTEST_MAX_SYMBOLS,
    BacktestLimits,
    BacktestService,
    InProcessLauncher,
    Launcher,
    Submission,
    SweepSpec,
    fail_interrupted,
    launcher_from_settings,
    limits_from,
)
from analytics_service.cache import ReportCache
from analytics_service.datasets import DatasetService
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
from shared.bus import EventBus
from shared.contracts import Timeframe
from shared.db import transaction
from shared.tickstore import TickStore

__all__ = [
    "ACTIVE",
    "BACKTEST_MAX_SYMBOLS",
    "MAX_POINTS",
    "AlertConsumer",
    "AlertFilter",
    "AlertStats",
    "AlertView",
    "AlertsService",
    "Analytics",
    "BacktestLimits",
    "BacktestRequest",
    "BacktestService",
    "BacktestSettings",
    "ChannelSpec",
    "ChannelView",
    "CurvePoint",
    "CurveResult",
    "DatasetService",
    "DateRange",
    "DayResult",
    "DeliveryWorker",
    "Direction",
    "Drawdown",
    "FillAt",
    "Flag",
    "InProcessLauncher",
    "Launcher",
    "MonthResult",
    "PerformanceReport",
    "PeriodStats",
    "PriceAlertSpec",
    "PriceWatcher",
    "Recorded",
    "ReportCache",
    "ReportResult",
    "RiskLimits",
    "RoundTrip",
    "ScopeInfo",
    "ScopeKind",
    "Submission",
    "SweepSpec",
    "TestResult",
    "TradeStats",
    "WalkForwardSpec",
    "backtest_finished_alert",
    "fail_interrupted",
    "launcher_from_settings",
    "limits_from",
    "notify_backtest_finished",
    "purge_history",
    "push_alerts",
    "record_alerts",
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


async def notify_backtest_finished(
    sessions: async_sessionmaker[AsyncSession],
    bus: EventBus | None,
    user_id: int,
    backtest_id: int | str,
    *,
    now: datetime,
    name: str = "",
    succeeded: bool = True,
    summary: dict[str, object] | None = None,
    error: str | None = None,
) -> list[Recorded]:
    """Raise the "backtest finished" alert of a run (once per ``backtest_id``), in its own
    transaction; its deliveries are sent by the delivery loop."""
    draft = backtest_finished_alert(
        user_id, backtest_id, name=name, succeeded=succeeded, summary=summary, error=error
    )
    async with transaction(sessions) as session:
        recorded = await record_alerts(session, [draft], now)
    await push_alerts(bus, recorded)
    return recorded
