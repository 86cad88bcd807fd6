"""Statistics of a series of period (daily) returns, as empyrical defines them.

Risk-free rate 0, simple (not log) returns, sample standard deviation (ddof 1),
annualisation by the periods of a year (252 for exchange sessions, 365 for 24x7
venues). Each function takes a 1-D float array of returns, oldest first, and
returns ``nan`` where empyrical returns ``nan`` (too few returns, zero
deviation), so tests can compare the two exactly; the report turns ``nan`` and
infinities into "not defined".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Returns = npt.NDArray[np.float64]


def as_returns(values: object) -> Returns:
    """A contiguous float64 copy of ``values`` (a list, an array, a Polars series)."""
    return np.array(values, dtype=np.float64, copy=True).reshape(-1)


def total_return(r: Returns) -> float:
    """Compounded return over the whole series (empyrical ``cum_returns_final``)."""
    if len(r) == 0:
        return math.nan
    return float(np.prod(r + 1.0) - 1.0)


def annual_return(r: Returns, periods_per_year: int) -> float:
    """Compound annual growth rate (empyrical ``annual_return``)."""
    if len(r) == 0:
        return math.nan
    years = len(r) / periods_per_year
    ending = float(np.prod(r + 1.0))
    if ending < 0:
        return math.nan  # a negative base has no real root; empyrical's power gives nan too
    return float(ending ** (1.0 / years) - 1.0)


def _std(r: Returns) -> float:
    """Sample standard deviation; exactly 0 for a constant series (as empyrical)."""
    if len(r) < 2:
        return math.nan
    if r.max() == r.min():
        return 0.0
    return float(np.std(r, ddof=1))


def annual_volatility(r: Returns, periods_per_year: int) -> float:
    """Sample standard deviation scaled by the square root of the periods of a year."""
    if len(r) < 2:
        return math.nan
    return float(np.std(r, ddof=1)) * math.sqrt(periods_per_year)


def _ratio(numerator: float, denominator: float) -> float:
    if math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    if denominator == 0:
        return math.nan if numerator == 0 else math.copysign(math.inf, numerator)
    return numerator / denominator


def sharpe_ratio(r: Returns, periods_per_year: int) -> float:
    """Mean over sample deviation, times the square root of the periods of a year."""
    if len(r) < 2:
        return math.nan
    return _ratio(float(np.mean(r)), _std(r)) * math.sqrt(periods_per_year)


def downside_risk(r: Returns, periods_per_year: int) -> float:
    """Root mean square of the returns below 0 (others count as 0), annualised."""
    if len(r) == 0:
        return math.nan
    below = np.minimum(r, 0.0)
    return math.sqrt(float(np.mean(below * below))) * math.sqrt(periods_per_year)


def sortino_ratio(r: Returns, periods_per_year: int) -> float:
    """Annualised mean return over annualised downside risk (empyrical ``sortino_ratio``)."""
    if len(r) < 2:
        return math.nan
    return _ratio(float(np.mean(r)) * periods_per_year, downside_risk(r, periods_per_year))


def wealth(r: Returns) -> Returns:
    """Growth of 1 after each period, with the starting 1 in front (length ``len(r) + 1``)."""
    out = np.empty(len(r) + 1, dtype=np.float64)
    out[0] = 1.0
    np.cumprod(r + 1.0, out=out[1:])
    return out


def _underwater(r: Returns) -> tuple[Returns, Returns]:
    """The wealth curve from a start of 100 and its drawdown at each position.

    Scaled to 100 as empyrical does, so drawdowns at rounding level (a return of -2e-16)
    come out bit for bit the same and ratios built on them agree too.
    """
    w = np.empty(len(r) + 1, dtype=np.float64)
    w[0] = 100.0
    np.multiply(np.cumprod(r + 1.0), 100.0, out=w[1:])
    peak = np.fmax.accumulate(w)
    return w, (w - peak) / peak


def drawdowns(r: Returns) -> Returns:
    """Drawdown after each period (<= 0), measured from the starting value as well."""
    return _underwater(r)[1][1:]


def max_drawdown(r: Returns) -> float:
    """Deepest fall from a running peak, as a negative fraction (empyrical ``max_drawdown``)."""
    if len(r) == 0:
        return math.nan
    return float(np.nanmin(drawdowns(r)))


def calmar_ratio(r: Returns, periods_per_year: int) -> float:
    """Annual return over the absolute maximum drawdown; nan without a drawdown."""
    dd = max_drawdown(r)
    if not dd < 0:
        return math.nan
    value = annual_return(r, periods_per_year) / abs(dd)
    return math.nan if math.isinf(value) else value


@dataclass(frozen=True, slots=True)
class DrawdownSpan:
    """The maximum drawdown located in the series, by position in the wealth curve.

    Positions index ``wealth(r)``: 0 is the start (before the first return), ``i``
    the end of the ``i``-th period. ``recovery`` is the first position back at the
    peak's value, or None if the series ends under water.
    """

    depth: float
    peak: int
    trough: int
    recovery: int | None


def max_drawdown_span(r: Returns) -> DrawdownSpan | None:
    """Where the maximum drawdown starts, bottoms out and ends; None if there is none."""
    if len(r) == 0:
        return None
    w, dd = _underwater(r)
    trough = int(np.argmin(dd))
    if not dd[trough] < 0:
        return None
    # The fall starts at the last moment at the running peak before the trough.
    peak = int(np.flatnonzero(dd[: trough + 1] == 0)[-1])
    after = np.flatnonzero(w[trough + 1 :] >= w[peak])
    recovery = trough + 1 + int(after[0]) if len(after) else None
    return DrawdownSpan(float(dd[trough]), peak, trough, recovery)
