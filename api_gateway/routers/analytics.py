"""/analytics: performance metrics, equity curves and round trips of the signed-in user's
broker accounts, strategy subscriptions and whole portfolio (per currency), over a range."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from analytics_service.api import Analytics, CurveResult, DateRange, ReportResult
from api_gateway.deps import CtxDep, CurrentUser, UowDep
from api_gateway.schemas.analytics import (
    CurveQuery,
    EquityCurvePublic,
    MetricsPublic,
    PortfolioCurveQuery,
    PortfolioRangeQuery,
    PortfolioTradesQuery,
    RangeQuery,
    RoundTripPublic,
    TradesPublic,
    TradesQuery,
)
from shared.models import User

router = APIRouter(prefix="/analytics", tags=["analytics"])

AccountId = Annotated[int, Path(ge=1, le=2**62)]
SubscriptionId = Annotated[int, Path(ge=1, le=2**62)]


def _analytics(ctx: CtxDep, uow: UowDep, user: User) -> Analytics:
    return Analytics(
        uow.session,
        user.id,
        now=ctx.clock.now(),
        cache=ctx.analytics_cache,
        tickstore=ctx.tickstore(),
        base_currency=ctx.settings.base_currency,
    )


def _range(query: RangeQuery) -> DateRange:
    return DateRange(query.start, query.end)


def _metrics(result: ReportResult) -> MetricsPublic:
    report = result.report
    return MetricsPublic.model_validate(
        {
            "scope": result.scope,
            "start": report.start,
            "end": report.end,
            "as_of": result.as_of,
            "last_fill_id": result.last_fill_id,
            "initial_equity": report.initial_equity,
            "final_equity": report.final_equity,
            "net_flows": report.net_flows,
            "pnl": report.pnl,
            "charges": report.charges,
            "period": report.period,
            "trades": report.trades,
            "daily": report.daily,
            "monthly": report.monthly,
            "flags": report.flags,
        },
        from_attributes=True,
    )


def _curve(result: CurveResult) -> EquityCurvePublic:
    return EquityCurvePublic.model_validate(result, from_attributes=True)


def _trades(result: ReportResult, limit: int, offset: int) -> TradesPublic:
    closed = result.report.closed_trades[::-1]  # newest exit first
    return TradesPublic.model_validate(
        {
            "scope": result.scope,
            "start": result.report.start,
            "end": result.report.end,
            "items": [RoundTripPublic.model_validate(t) for t in closed[offset : offset + limit]],
            "total": len(closed),
            "limit": limit,
            "offset": offset,
        },
        from_attributes=True,
    )


# -- broker accounts -------------------------------------------------------------


@router.get("/accounts/{account_id}/metrics", response_model=MetricsPublic)
async def account_metrics(
    account_id: AccountId,
    query: Annotated[RangeQuery, Query()],
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
) -> object:
    """Period and round-trip statistics of a broker account, from its marked equity."""
    result = await _analytics(ctx, uow, user).account_report(account_id, _range(query))
    return _metrics(result)


@router.get("/accounts/{account_id}/equity", response_model=EquityCurvePublic)
async def account_equity(
    account_id: AccountId,
    query: Annotated[CurveQuery, Query()],
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
) -> object:
    """The account's equity at every fill, candle close of ``timeframe`` and day's end."""
    analytics = _analytics(ctx, uow, user)
    return _curve(await analytics.account_curve(account_id, _range(query), query.timeframe))


@router.get("/accounts/{account_id}/trades", response_model=TradesPublic)
async def account_trades(
    account_id: AccountId,
    query: Annotated[TradesQuery, Query()],
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
) -> object:
    """Round trips of the account closed in the range."""
    result = await _analytics(ctx, uow, user).account_report(account_id, _range(query))
    return _trades(result, query.limit, query.offset)


# -- strategy subscriptions --------------------------------------------------------


@router.get("/subscriptions/{subscription_id}/metrics", response_model=MetricsPublic)
async def subscription_metrics(
    subscription_id: SubscriptionId,
    query: Annotated[RangeQuery, Query()],
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
) -> object:
    """Statistics of a subscription's own orders, on its capital allocation."""
    analytics = _analytics(ctx, uow, user)
    return _metrics(await analytics.subscription_report(subscription_id, _range(query)))


@router.get("/subscriptions/{subscription_id}/equity", response_model=EquityCurvePublic)
async def subscription_equity(
    subscription_id: SubscriptionId,
    query: Annotated[CurveQuery, Query()],
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
) -> object:
    analytics = _analytics(ctx, uow, user)
    when = _range(query)
    return _curve(await analytics.subscription_curve(subscription_id, when, query.timeframe))


@router.get("/subscriptions/{subscription_id}/trades", response_model=TradesPublic)
async def subscription_trades(
    subscription_id: SubscriptionId,
    query: Annotated[TradesQuery, Query()],
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
) -> object:
    analytics = _analytics(ctx, uow, user)
    result = await analytics.subscription_report(subscription_id, _range(query))
    return _trades(result, query.limit, query.offset)


# -- the user's portfolio ---------------------------------------------------------


@router.get("/me/metrics", response_model=MetricsPublic)
async def my_metrics(
    query: Annotated[PortfolioRangeQuery, Query()], user: CurrentUser, ctx: CtxDep, uow: UowDep
) -> object:
    """All my accounts in one currency as one portfolio (accounts opened later count as
    capital paid in, not as gains)."""
    analytics = _analytics(ctx, uow, user)
    return _metrics(await analytics.portfolio_report(query.currency, _range(query)))


@router.get("/me/equity", response_model=EquityCurvePublic)
async def my_equity(
    query: Annotated[PortfolioCurveQuery, Query()], user: CurrentUser, ctx: CtxDep, uow: UowDep
) -> object:
    analytics = _analytics(ctx, uow, user)
    when = _range(query)
    return _curve(await analytics.portfolio_curve(query.currency, when, query.timeframe))


@router.get("/me/trades", response_model=TradesPublic)
async def my_trades(
    query: Annotated[PortfolioTradesQuery, Query()], user: CurrentUser, ctx: CtxDep, uow: UowDep
) -> object:
    analytics = _analytics(ctx, uow, user)
    result = await analytics.portfolio_report(query.currency, _range(query))
    return _trades(result, query.limit, query.offset)
