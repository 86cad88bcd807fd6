"""The indicators TA-Lib lacks, vectorised, against naive loops."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from strategy_workers import indicators as ta


def naive_vwap(h, lo, c, v, sessions=None):
    out = np.full(len(c), np.nan)
    pv = vol = 0.0
    for i in range(len(c)):
        if sessions is not None and i > 0 and sessions[i] != sessions[i - 1]:
            pv = vol = 0.0
        pv += (h[i] + lo[i] + c[i]) / 3 * v[i]
        vol += v[i]
        if vol > 0:
            out[i] = pv / vol
    return out


def naive_swing_highs(h, order):
    out = np.zeros(len(h), dtype=bool)
    for i in range(order, len(h) - order):
        left = h[i - order : i]
        right = h[i + 1 : i + order + 1]
        out[i] = all(h[i] > x for x in left) and all(h[i] >= x for x in right)
    return out


def naive_clusters(prices, tol):
    levels: list[list[float]] = []
    for p in sorted(prices):
        if levels and p - levels[-1][-1] <= tol * levels[-1][-1]:
            levels[-1].append(p)
        else:
            levels.append([p])
    return [sum(g) / len(g) for g in levels], [len(g) for g in levels]


@pytest.fixture(params=[1, 2, 3])
def bars(request):
    rng = np.random.default_rng(request.param)
    n = 500
    c = 100 + np.cumsum(rng.normal(0, 1, n))
    h, lo = c + rng.uniform(0, 1, n), c - rng.uniform(0, 1, n)
    v = rng.integers(0, 1000, n).astype(float)
    v[:3] = 0.0  # no trades at the open: VWAP undefined until the first traded bar
    return h, lo, c, v


def test_vwap_without_sessions_matches_cumulative_loop(bars):
    h, lo, c, v = bars
    np.testing.assert_allclose(ta.vwap(h, lo, c, v), naive_vwap(h, lo, c, v), rtol=1e-10)


def test_vwap_restarts_at_each_session(bars):
    h, lo, c, v = bars
    sessions = np.repeat(np.arange(5), 100).astype(np.int64)
    v[100] = 0.0  # a session whose first bar did not trade
    np.testing.assert_allclose(
        ta.vwap(h, lo, c, v, sessions), naive_vwap(h, lo, c, v, sessions), rtol=1e-9
    )


def test_session_ids_split_on_the_local_midnight():
    before = datetime(2024, 3, 4, 18, 29, tzinfo=UTC)  # 23:59 IST on the 4th
    after = datetime(2024, 3, 4, 18, 31, tzinfo=UTC)  # 00:01 IST on the 5th
    ts = np.array([int(before.timestamp()) * 10**9, int(after.timestamp()) * 10**9], dtype=np.int64)
    ids = ta.session_ids(ts)
    assert ids[1] == ids[0] + 1


def test_swing_highs_match_naive_scan(bars):
    h = np.round(bars[0], 0)  # rounding creates ties and plateaus
    for order in (1, 2, 3):
        np.testing.assert_array_equal(ta.swing_highs(h, order), naive_swing_highs(h, order))


def test_swing_lows_are_swing_highs_of_the_negated_series(bars):
    lo = np.round(bars[1], 0)
    np.testing.assert_array_equal(ta.swing_lows(lo, 2), naive_swing_highs(-lo, 2))


def test_cluster_levels_match_naive_grouping(bars):
    prices = bars[0][ta.swing_highs(bars[0], 2)]
    expected_price, expected_touches = naive_clusters(prices, 0.01)
    levels = ta.cluster_levels(prices, 0.01)
    np.testing.assert_allclose(levels.price, expected_price, rtol=1e-12)
    np.testing.assert_array_equal(levels.touches, expected_touches)


def test_support_and_resistance_of_a_range_bound_market():
    peaks = np.tile([100.0, 102.0, 105.0, 102.0], 5)
    troughs = peaks - 1.0
    levels = ta.support_resistance(peaks, troughs, order=1)
    assert levels.resistance.price.tolist() == [105.0]
    assert levels.support.price.tolist() == [99.0]
    # Five peaks; the first trough is the first bar, which has no left side to confirm it.
    assert levels.resistance.touches.tolist() == [5]
    assert levels.support.touches.tolist() == [4]


def test_no_swing_points_in_a_series_shorter_than_the_window():
    assert not ta.swing_highs(np.array([1.0, 2.0, 1.0]), 2).any()
