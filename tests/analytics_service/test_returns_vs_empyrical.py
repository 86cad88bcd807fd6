"""Period statistics against empyrical on random daily return series, to 1e-9 relative."""

from __future__ import annotations

import math
from decimal import Decimal

import empyrical
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_service.metrics import returns as R
from analytics_service.metrics.report import DayResult, monthly

REL = 1e-9
# Sums of a few hundred returns are accumulated in different orders (numpy pairwise,
# bottleneck sequentially): near zero only an absolute tolerance at rounding level is fair.
ABS = 1e-12


def close(ours: float, theirs: float) -> bool:
    if math.isnan(theirs) or math.isnan(ours):
        return math.isnan(theirs) and math.isnan(ours)
    if math.isinf(theirs) or math.isinf(ours):
        return ours == theirs
    return math.isclose(ours, theirs, rel_tol=REL, abs_tol=ABS)


def compare(r: np.ndarray, ppy: int) -> None:
    pairs = {
        "total_return": (R.total_return(r), empyrical.cum_returns_final(r)),
        "annual_return": (R.annual_return(r, ppy), empyrical.annual_return(r, annualization=ppy)),
        "annual_volatility": (
            R.annual_volatility(r, ppy),
            empyrical.annual_volatility(r, annualization=ppy),
        ),
        "sharpe": (R.sharpe_ratio(r, ppy), empyrical.sharpe_ratio(r, annualization=ppy)),
        "sortino": (R.sortino_ratio(r, ppy), empyrical.sortino_ratio(r, annualization=ppy)),
        "downside_risk": (R.downside_risk(r, ppy), empyrical.downside_risk(r, annualization=ppy)),
        "max_drawdown": (R.max_drawdown(r), empyrical.max_drawdown(r)),
        "calmar": (R.calmar_ratio(r, ppy), empyrical.calmar_ratio(r, annualization=ppy)),
    }
    for name, (ours, theirs) in pairs.items():
        assert close(ours, float(theirs)), f"{name}: ours {ours!r}, empyrical {theirs!r}"


daily = st.floats(min_value=-0.2, max_value=0.2, allow_nan=False, allow_subnormal=False)


@given(st.lists(daily, min_size=2, max_size=400), st.sampled_from([252, 365]))
@settings(max_examples=300, deadline=None)
def test_period_statistics_match_empyrical_on_random_returns(values, ppy):
    compare(np.array(values, dtype=np.float64), ppy)


@pytest.mark.parametrize("seed", range(40))
def test_period_statistics_match_empyrical_on_seeded_series(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 3000))
    r = rng.normal(rng.uniform(-0.002, 0.002), rng.uniform(0.001, 0.05), n)
    compare(r, 252 if seed % 2 else 365)


def test_monthly_returns_match_empyrical_aggregate_returns():
    rng = np.random.default_rng(7)
    days = pd.bdate_range("2024-01-01", "2025-06-30")
    r = rng.normal(0.0004, 0.012, len(days))
    theirs = empyrical.aggregate_returns(pd.Series(r, index=days), "monthly")
    results = [
        DayResult(d.date(), Decimal(0), Decimal(0), float(x), exposed=False)
        for d, x in zip(days, r, strict=True)
    ]
    ours = monthly(results)
    assert [(m.year, m.month) for m in ours] == list(theirs.index)
    for month, expected in zip(ours, theirs.to_numpy(), strict=True):
        assert math.isclose(month.month_return, float(expected), rel_tol=REL, abs_tol=ABS)


@pytest.mark.parametrize(
    "r",
    [[0.01] * 10, [0.0] * 5, [-0.01, -0.01, -0.01], [0.02, -0.5, 0.1, 2.0]],
    ids=["constant", "zeros", "only_losses", "deep_fall_and_recovery"],
)
def test_edge_series_agree_with_empyrical_on_nan_and_infinity(r):
    compare(np.array(r, dtype=np.float64), 252)


def test_first_day_loss_is_a_drawdown_from_the_starting_value():
    r = np.array([-0.1, 0.05, 0.05])
    span = R.max_drawdown_span(r)
    assert span is not None
    assert span.peak == 0 and span.trough == 1  # the start, then the end of day one
    assert math.isclose(span.depth, -0.1)
    assert span.recovery is None  # 0.9 * 1.05 * 1.05 is still below 1


def test_drawdown_span_locates_peak_trough_and_recovery():
    r = np.array([0.1, -0.2, 0.05, 0.2, -0.01])
    span = R.max_drawdown_span(r)
    assert span is not None
    assert (span.peak, span.trough, span.recovery) == (1, 2, 4)
    assert math.isclose(span.depth, empyrical.max_drawdown(r), rel_tol=REL)


def test_no_drawdown_in_a_rising_series():
    assert R.max_drawdown_span(np.array([0.01, 0.02, 0.0])) is None
    assert R.max_drawdown(np.array([0.01, 0.02])) == 0.0


def test_annualisation_uses_the_periods_of_a_year():
    r = np.full(365, 0.001)
    assert math.isclose(R.annual_return(r, 365), 1.001**365 - 1, rel_tol=REL)
    assert math.isclose(R.annual_return(r[:252], 252), 1.001**252 - 1, rel_tol=REL)


def test_a_drawdown_starts_at_the_last_moment_at_the_peak():
    span = R.max_drawdown_span(np.array([0.1, 0.0, 0.0, -0.05, 0.01]))
    assert span is not None
    assert (span.peak, span.trough, span.recovery) == (3, 4, None)
