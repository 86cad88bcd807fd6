"""Performance metrics, equity curves and round trips, as the API shows them.

Money is an exact decimal string; returns, ratios and fractions are JSON numbers
(``0.0123`` is 1.23%), ``null`` where a figure is not defined or is withheld (see
``flags`` and docs/analytics.md).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api_gateway.schemas.common import IsoDatetime, MoneyOut, PublicModel
from shared.contracts import Timeframe

Moment = IsoDatetime | date


class RangeQuery(BaseModel):
    """``from``/``to``: an ISO 8601 moment with an offset, or a day (``2025-06-30``, in the
    exchange's time zone; a ``to`` day is included). Unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    start: Moment | None = Field(
        None, alias="from", description="start of the range (default: the scope's opening)"
    )
    end: Moment | None = Field(None, alias="to", description="end of the range (default: now)")


class CurrencyQuery(BaseModel):
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3,5}$")] | None = Field(
        None, description="the accounts in this currency (needed when there are several)"
    )


class CurveQuery(RangeQuery):
    timeframe: Timeframe = Field(
        Timeframe.D1, description="mark at the close of every candle of this timeframe"
    )


class TradesQuery(RangeQuery):
    limit: int = Field(50, ge=1, le=200, description="page size (max 200)")
    offset: int = Field(0, ge=0, le=1_000_000)


class PortfolioRangeQuery(RangeQuery, CurrencyQuery):
    pass


class PortfolioCurveQuery(CurveQuery, CurrencyQuery):
    pass


class PortfolioTradesQuery(TradesQuery, CurrencyQuery):
    pass


class ScopePublic(PublicModel):
    kind: str = Field(description="account, subscription or portfolio")
    id: int | None
    currency: str
    calendar: str = Field(description="the exchange calendar the days follow (NSE, US, 24x7)")
    broker_account_ids: list[int]
    capital: MoneyOut


class RoundTripPublic(PublicModel):
    broker_account_id: int = Field(validation_alias="account_id")
    symbol: str
    product: str
    side: str = Field(description="BUY: a long round trip, SELL: a short one")
    quantity: MoneyOut
    entry_time: datetime
    entry_price: MoneyOut
    exit_time: datetime | None
    exit_price: MoneyOut | None
    gross_pnl: MoneyOut
    charges: MoneyOut
    net_pnl: MoneyOut
    return_fraction: float | None = Field(description="net P&L over the entry notional")
    holding_seconds: float | None
    fills: int


class DrawdownPublic(PublicModel):
    depth: float = Field(description="negative fraction below the peak")
    peak: datetime
    trough: datetime
    recovery: datetime | None
    duration_days: float
    periods: int


class DayPublic(PublicModel):
    day: date
    equity: MoneyOut
    pnl: MoneyOut
    day_return: float | None
    exposed: bool


class MonthPublic(PublicModel):
    year: int
    month: int
    month_return: float
    pnl: MoneyOut


class PeriodStatsPublic(PublicModel):
    periods: int = Field(description="daily returns")
    periods_per_year: int
    total_return: float | None
    annual_return: float | None
    annual_volatility: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: DrawdownPublic | None
    best_day: DayPublic | None
    worst_day: DayPublic | None
    exposure: float | None


class TradeStatsPublic(PublicModel):
    count: int = Field(description="round trips closed in the range")
    open_trades: int
    wins: int
    losses: int
    breakeven: int
    win_rate: float | None
    profit_factor: float | None
    gross_profit: MoneyOut
    gross_loss: MoneyOut
    net_pnl: MoneyOut
    charges: MoneyOut
    average_win: MoneyOut | None
    average_loss: MoneyOut | None
    expectancy: MoneyOut | None
    sqn: float | None
    average_holding_seconds: float | None
    best: RoundTripPublic | None
    worst: RoundTripPublic | None


class MetricsPublic(BaseModel):
    scope: ScopePublic
    start: datetime
    end: datetime
    as_of: datetime
    last_fill_id: int = Field(description="the newest fill the figures include")
    initial_equity: MoneyOut
    final_equity: MoneyOut
    net_flows: MoneyOut
    pnl: MoneyOut
    charges: MoneyOut
    period: PeriodStatsPublic
    trades: TradeStatsPublic
    daily: list[DayPublic]
    monthly: list[MonthPublic]
    flags: list[str] = Field(description="short_period, few_trades, no_returns, ...")


class CurvePointPublic(PublicModel):
    ts: datetime
    equity: MoneyOut
    cash: MoneyOut
    market_value: MoneyOut
    drawdown: float


class EquityCurvePublic(BaseModel):
    scope: ScopePublic
    start: datetime
    end: datetime
    timeframe: Timeframe
    as_of: datetime
    last_fill_id: int
    points: list[CurvePointPublic]
    flags: list[str]


class TradesPublic(BaseModel):
    scope: ScopePublic
    start: datetime
    end: datetime
    items: list[RoundTripPublic] = Field(description="newest exit first")
    total: int
    limit: int
    offset: int
