"""The marked equity curve, time-weighted daily returns and the report built on them."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import empyrical
import numpy as np

from analytics_service.metrics.curve import equity_at, equity_curve
from analytics_service.metrics.periods import daily_periods, periods_per_year
from analytics_service.metrics.report import Flag, ScopeData, performance
from shared.calendar import IST, calendar_for

from .builders import capital, fill, mark

NSE = calendar_for("NSE")
CRYPTO = calendar_for("BINANCE")


def ist(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), IST)


MON = date(2025, 6, 9)


def test_equity_is_cash_plus_positions_at_the_newest_known_price():
    t = ist(MON, 10)
    flows = [capital(t - timedelta(hours=1), 10_000)]
    fills = [fill(t, "BUY", 10, "100.05", charges="2")]
    marks = [mark(t + timedelta(minutes=5), 101.5), mark(t + timedelta(minutes=20), 99.0)]
    curve = equity_at(
        [t, t + timedelta(minutes=10), t + timedelta(minutes=30)], flows, fills, marks
    )
    assert curve["cash"].to_list() == [Decimal("8997.5")] * 3
    assert curve["equity"].to_list() == [Decimal("9998"), Decimal("10012.5"), Decimal("9987.5")]
    assert curve["exposed"].to_list() == [True, True, True]


def test_a_later_fill_price_overrides_an_older_candle_close():
    t = ist(MON, 10)
    fills = [fill(t, "BUY", 1, 100), fill(t + timedelta(minutes=10), "BUY", 1, 105)]
    curve = equity_at(
        [t + timedelta(minutes=15)], [capital(t, 1000)], fills, [mark(t + timedelta(minutes=1), 90)]
    )
    assert curve["market_value"].to_list() == [Decimal(210)]


def test_nse_days_are_sessions_and_crypto_days_are_calendar_days():
    start, end = ist(MON, 0), ist(MON + timedelta(days=7), 0)
    nse = daily_periods(NSE, start, end)
    assert [p.day.weekday() for p in nse] == [0, 1, 2, 3, 4]
    assert nse[0].end == ist(MON, 15, 30)
    assert len(daily_periods(CRYPTO, start, end)) == 8  # UTC days touching the range
    assert (periods_per_year(NSE), periods_per_year(CRYPTO)) == (252, 365)


def _week_of_marks(closes: list[float]) -> list:
    return [mark(ist(MON + timedelta(days=i), 15, 30), c) for i, c in enumerate(closes)]


def test_daily_returns_are_marked_to_market_from_the_initial_capital():
    opened = ist(MON, 9)
    data = ScopeData(
        NSE,
        [capital(opened, 100_000)],
        [fill(ist(MON, 10), "BUY", 100, 1000)],
        _week_of_marks([990, 1010, 1000, 1030, 1020]),
    )
    report = performance(data, ist(MON, 0), ist(MON + timedelta(days=5), 0))
    equities = [100_000 + 100 * (c - 1000) for c in [990, 1010, 1000, 1030, 1020]]
    expected = np.array(equities) / np.array([100_000, *equities[:-1]]) - 1
    assert [d.equity for d in report.daily] == [Decimal(e) for e in equities]
    assert np.allclose([d.day_return for d in report.daily], expected, rtol=1e-12)
    assert report.initial_equity == 100_000
    assert report.pnl == Decimal(2000)
    assert math.isclose(report.period.total_return or 0, 0.02)
    dd = report.period.max_drawdown
    assert dd is not None and math.isclose(dd.depth, empyrical.max_drawdown(expected))
    assert dd.peak == ist(MON, 0)  # a first-day loss falls from the starting capital
    assert dd.trough == ist(MON, 15, 30)
    assert dd.recovery == ist(MON + timedelta(days=1), 15, 30)
    assert report.trades.count == 0 and report.trades.open_trades == 1
    assert report.period.exposure == 1.0


def test_capital_paid_in_during_the_range_is_no_gain():
    opened = ist(MON, 9)
    data = ScopeData(
        NSE,
        [capital(opened, 100_000), capital(ist(MON + timedelta(days=2), 9), 50_000)],
        [],
    )
    report = performance(data, ist(MON, 0), ist(MON + timedelta(days=5), 0))
    assert [d.day_return for d in report.daily] == [0.0] * 5
    assert [d.pnl for d in report.daily] == [0] * 5
    assert report.net_flows == 50_000
    assert report.pnl == 0
    assert report.period.max_drawdown is None
    assert report.period.exposure == 0.0


def test_days_before_the_scope_opened_have_no_return():
    data = ScopeData(NSE, [capital(ist(MON + timedelta(days=2), 11), 1000)], [])
    report = performance(data, ist(MON, 0), ist(MON + timedelta(days=5), 0))
    assert [d.day for d in report.daily] == [MON + timedelta(days=i) for i in range(2, 5)]
    assert report.initial_equity == 1000


def test_a_short_period_withholds_annual_return_and_calmar():
    data = ScopeData(
        NSE,
        [capital(ist(MON, 9), 100_000)],
        [fill(ist(MON, 10), "BUY", 100, 1000)],
        _week_of_marks([990, 1010, 1000, 1030, 1020]),
    )
    report = performance(data, ist(MON, 0), ist(MON + timedelta(days=5), 0))
    assert Flag.SHORT_PERIOD in report.flags and Flag.FEW_TRADES in report.flags
    assert report.period.annual_return is None and report.period.calmar is None
    assert report.period.sharpe is not None


def test_a_long_period_reports_annual_figures_as_empyrical():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rng = np.random.default_rng(3)
    closes = 100 * np.cumprod(1 + rng.normal(0.001, 0.02, 200))
    marks = [mark(start + timedelta(days=i + 1), float(c), "BTCUSDT") for i, c in enumerate(closes)]
    data = ScopeData(
        CRYPTO,
        [capital(start, 10_000)],
        [fill(start, "BUY", 1, 100, symbol="BTCUSDT")],
        marks,
    )
    report = performance(data, start, start + timedelta(days=200))
    r = np.array([d.day_return for d in report.daily])
    assert len(r) == 200 and Flag.SHORT_PERIOD not in report.flags
    period = report.period
    assert math.isclose(period.annual_return or 0, empyrical.annual_return(r, annualization=365))
    assert math.isclose(period.sharpe or 0, empyrical.sharpe_ratio(r, annualization=365))
    assert math.isclose(period.sortino or 0, empyrical.sortino_ratio(r, annualization=365))
    assert math.isclose(period.calmar or 0, empyrical.calmar_ratio(r, annualization=365))
    assert report.final_equity == Decimal(10_000 - 100) + Decimal(str(float(closes[-1]))).quantize(
        Decimal("0.00000001")
    )


def test_trades_count_in_the_range_they_close_in():
    fills = [
        fill(ist(MON, 10), "BUY", 1, 100),
        fill(ist(MON, 11), "SELL", 1, 101),
        fill(ist(MON + timedelta(days=1), 10), "BUY", 1, 100),
        fill(ist(MON + timedelta(days=1), 11), "SELL", 1, 99, charges=1),
    ]
    data = ScopeData(NSE, [capital(ist(MON, 9), 1000)], fills)
    report = performance(data, ist(MON + timedelta(days=1), 0), ist(MON + timedelta(days=2), 0))
    assert report.trades.count == 1
    assert report.trades.net_pnl == Decimal(-2)
    assert report.charges == Decimal(1)
    assert report.initial_equity == Decimal(1001)


def test_the_curve_measures_drawdown_on_time_weighted_equity():
    t = ist(MON, 10)
    flows = [capital(t, 1000), capital(t + timedelta(hours=2), 1000)]
    fills = [fill(t, "BUY", 10, 100)]
    marks = [mark(t + timedelta(hours=1), 90), mark(t + timedelta(hours=3), 95)]
    points = equity_curve([t + timedelta(hours=h) for h in range(4)], flows, fills, marks)
    assert [p.equity for p in points] == [1000, 900, 1900, 1950]
    assert [round(p.drawdown, 6) for p in points] == [
        0,
        -0.1,
        -0.1,
        round(1950 / 1900 * 0.9 - 1, 6),
    ]
