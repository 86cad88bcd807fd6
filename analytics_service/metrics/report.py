"""A performance report: period statistics from the daily marked equity, trade statistics
from round trips, kept apart.

Daily returns are time-weighted: capital paid in or taken out during a day (the
starting capital of a scope that begins inside the range, deposits, withdrawals)
counts at the start of that day, so

    r_d = E_d / (E_{d-1} + F_d) - 1        daily P&L_d = E_d - E_{d-1} - F_d

with ``E_d`` the equity at the day's mark and ``F_d`` the external flows since the
previous mark. Days before the scope holds any capital have no return.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import polars as pl

from shared.calendar import Calendar

from . import returns as R
from .curve import equity_at
from .periods import Period, daily_periods, periods_per_year
from .trades import ZERO, RoundTrip, TradeStats, round_trips, trade_stats
from .types import CashFlow, FillRecord, Mark

MIN_YEAR_FRACTION = 0.25
"""Annual return and Calmar are left out (flag ``short_period``) for fewer daily returns than
this fraction of a year (63 sessions, 92 crypto days): compounding a few weeks to a year
gives numbers that mean nothing."""


class Flag:
    """Codes a report carries when a figure is missing or should be read with care."""

    NO_RETURNS = "no_returns"
    SHORT_PERIOD = "short_period"
    FEW_TRADES = "few_trades"
    EQUITY_NOT_POSITIVE = "equity_not_positive"
    PRICES_UNAVAILABLE = "prices_unavailable"


@dataclass(frozen=True, slots=True)
class DayResult:
    day: date
    equity: Decimal
    pnl: Decimal
    day_return: float | None
    exposed: bool


@dataclass(frozen=True, slots=True)
class MonthResult:
    year: int
    month: int
    month_return: float
    pnl: Decimal


@dataclass(frozen=True, slots=True)
class Drawdown:
    """The deepest fall of the time-weighted equity from a running peak."""

    depth: float
    """A negative fraction, e.g. -0.12 for 12% below the peak."""
    peak: datetime
    trough: datetime
    recovery: datetime | None
    """When equity was back at the peak, or None if it has not recovered by the range's end."""
    duration_days: float
    """From the peak to the recovery, or to the range's end if not recovered."""
    periods: int
    """Daily periods from the peak to the recovery (or the end)."""


@dataclass(frozen=True, slots=True)
class PeriodStats:
    periods: int
    periods_per_year: int
    total_return: float | None
    annual_return: float | None
    annual_volatility: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: Drawdown | None
    best_day: DayResult | None
    worst_day: DayResult | None
    exposure: float | None
    """Share of the daily periods in which a position was open at some time."""


@dataclass(frozen=True, slots=True)
class PerformanceReport:
    start: datetime
    end: datetime
    initial_equity: Decimal
    final_equity: Decimal
    net_flows: Decimal
    """Capital paid in (+) or taken out (-) after the initial equity, within the range."""
    pnl: Decimal
    """final equity - initial equity - net flows."""
    charges: Decimal
    """Charges of the fills in the range."""
    period: PeriodStats
    trades: TradeStats
    daily: list[DayResult]
    monthly: list[MonthResult]
    closed_trades: list[RoundTrip]
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ScopeData:
    """Everything a report is computed from (fills and flows up to the range's end)."""

    calendar: Calendar
    flows: Sequence[CashFlow]
    fills: Sequence[FillRecord]
    marks: Sequence[Mark] = ()


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _drawdown(r: R.Returns, times: Sequence[datetime]) -> Drawdown | None:
    """``times[i]`` is the moment of wealth position ``i`` (0: before the first return)."""
    span = R.max_drawdown_span(r)
    if span is None:
        return None
    until = span.recovery if span.recovery is not None else len(times) - 1
    return Drawdown(
        depth=span.depth,
        peak=times[span.peak],
        trough=times[span.trough],
        recovery=times[span.recovery] if span.recovery is not None else None,
        duration_days=(times[until] - times[span.peak]).total_seconds() / 86_400,
        periods=until - span.peak,
    )


def period_stats(
    r: R.Returns, ppy: int, times: Sequence[datetime], days: Sequence[DayResult]
) -> PeriodStats:
    """Statistics of the daily returns ``r``; ``times`` has one more moment (the base)."""
    short = len(r) < ppy * MIN_YEAR_FRACTION
    ranked = [d for d in days if d.day_return is not None]
    return PeriodStats(
        periods=len(r),
        periods_per_year=ppy,
        total_return=_finite(R.total_return(r)),
        annual_return=None if short else _finite(R.annual_return(r, ppy)),
        annual_volatility=_finite(R.annual_volatility(r, ppy)),
        sharpe=_finite(R.sharpe_ratio(r, ppy)),
        sortino=_finite(R.sortino_ratio(r, ppy)),
        calmar=None if short else _finite(R.calmar_ratio(r, ppy)),
        max_drawdown=_drawdown(r, times),
        best_day=max(ranked, key=lambda d: d.day_return or 0.0) if ranked else None,
        worst_day=min(ranked, key=lambda d: d.day_return or 0.0) if ranked else None,
        exposure=sum(d.exposed for d in ranked) / len(ranked) if ranked else None,
    )


def monthly(days: Sequence[DayResult]) -> list[MonthResult]:
    """Each calendar month's compounded return and P&L (empyrical ``aggregate_returns``)."""
    rows = [d for d in days if d.day_return is not None]
    if not rows:
        return []
    frame = pl.DataFrame(
        {
            "year": [d.day.year for d in rows],
            "month": [d.day.month for d in rows],
            "r": [d.day_return for d in rows],
            "pnl": [d.pnl for d in rows],
        },
        schema={"year": pl.Int32, "month": pl.Int8, "r": pl.Float64, "pnl": pl.Decimal(38, 8)},
    )
    grouped = (
        frame.group_by("year", "month", maintain_order=True)
        .agg((pl.col("r") + 1).product().alias("growth"), pl.col("pnl").sum())
        .sort("year", "month")
    )
    return [
        MonthResult(int(y), int(m), float(g) - 1.0, Decimal(p))
        for y, m, g, p in grouped.iter_rows()
    ]


def _exposed_periods(
    fills: Sequence[FillRecord], bounds: Sequence[datetime], open_at: Sequence[bool]
) -> list[bool]:
    """Per period ``(bounds[i], bounds[i+1]]``: open at its start, or a fill within it."""
    stamps = np.array(sorted(f.ts.timestamp() for f in fills), dtype=np.float64)
    edges = np.array([b.timestamp() for b in bounds], dtype=np.float64)
    counts = np.searchsorted(stamps, edges, side="right")
    traded = counts[1:] > counts[:-1]
    return [bool(o or t) for o, t in zip(open_at[:-1], traded, strict=True)]


def performance(data: ScopeData, start: datetime, end: datetime) -> PerformanceReport:
    """The report of ``data`` over ``(start, end]``."""
    periods = daily_periods(data.calendar, start, end)
    ppy = periods_per_year(data.calendar)
    moments = [start, *(p.end for p in periods)]
    curve = equity_at(moments, data.flows, data.fills, data.marks)
    equity = curve["equity"].to_list()
    paid_in = curve["paid_in"].to_list()
    exposed = _exposed_periods(data.fills, moments, curve["exposed"].to_list())
    flags: list[str] = []
    days, rets, times = _days(periods, moments, equity, paid_in, exposed, flags)
    r = R.as_returns(rets)
    trips = round_trips(data.fills)
    closed = [t for t in trips.closed if t.exit_time is not None and start < t.exit_time <= end]
    stats = trade_stats(closed, open_trades=len(trips.open))
    initial, flows_after = _initial(equity, paid_in, days, len(periods))
    if not len(r):
        flags.append(Flag.NO_RETURNS)
    elif len(r) < ppy * MIN_YEAR_FRACTION:
        flags.append(Flag.SHORT_PERIOD)
    if stats.few_trades:
        flags.append(Flag.FEW_TRADES)
    final = equity[-1]
    return PerformanceReport(
        start=start,
        end=end,
        initial_equity=initial,
        final_equity=final,
        net_flows=flows_after,
        pnl=final - initial - flows_after,
        charges=sum((f.charges for f in data.fills if start < f.ts <= end), ZERO),
        period=period_stats(r, ppy, times, days),
        trades=stats,
        daily=days,
        monthly=monthly(days),
        closed_trades=closed,
        flags=flags,
    )


def _days(
    periods: Sequence[Period],
    moments: Sequence[datetime],
    equity: Sequence[Decimal],
    paid_in: Sequence[Decimal],
    exposed: Sequence[bool],
    flags: list[str],
) -> tuple[list[DayResult], list[float], list[datetime]]:
    """Daily results from the curve at ``moments`` (the base moment, then each period's mark).

    Returns the days (from the first with capital), the returns that are defined, and the
    moments of the wealth positions (the base, then each returned day's mark)."""
    days: list[DayResult] = []
    rets: list[float] = []
    times: list[datetime] = []
    for i, period in enumerate(periods, start=1):
        flow = paid_in[i] - paid_in[i - 1]
        base = equity[i - 1] + flow
        if not days and base == 0 and equity[i] == 0:
            continue  # the scope holds nothing yet
        day_return: float | None = None
        if base > 0:
            day_return = float(equity[i] / base) - 1.0
            if not rets:
                times.append(moments[i - 1])
            rets.append(day_return)
            times.append(period.end)
        elif Flag.EQUITY_NOT_POSITIVE not in flags:
            flags.append(Flag.EQUITY_NOT_POSITIVE)
        pnl = equity[i] - equity[i - 1] - flow
        days.append(DayResult(period.day, equity[i], pnl, day_return, exposed[i - 1]))
    return days, rets, times


def _initial(
    equity: Sequence[Decimal], paid_in: Sequence[Decimal], days: Sequence[DayResult], n: int
) -> tuple[Decimal, Decimal]:
    """The equity the range starts from (with the capital paid in on its first day) and the
    external flows after that."""
    if not days:
        return equity[-1], ZERO
    first = n - len(days) + 1  # index of the first day's mark in the curve
    initial = equity[first - 1] + (paid_in[first] - paid_in[first - 1])
    return initial, paid_in[-1] - paid_in[first]
