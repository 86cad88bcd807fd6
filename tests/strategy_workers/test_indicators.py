"""Indicators against naive, loop-by-loop references of their textbook definitions."""

from __future__ import annotations

import numpy as np
import pytest

from strategy_workers import indicators as ta

N = 300


@pytest.fixture
def ohlcv() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 1, N))
    high = close + rng.uniform(0.1, 2.0, N)
    low = close - rng.uniform(0.1, 2.0, N)
    volume = rng.uniform(100, 1000, N)
    return high, low, close, volume


def naive_sma(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    for i in range(n - 1, len(x)):
        out[i] = sum(x[i - n + 1 : i + 1]) / n
    return out


def naive_ema(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    out[n - 1] = sum(x[:n]) / n
    alpha = 2 / (n + 1)
    for i in range(n, len(x)):
        out[i] = alpha * x[i] + (1 - alpha) * out[i - 1]
    return out


def wilder(values: np.ndarray, n: int, first: int) -> np.ndarray:
    """Wilder smoothing: mean of values[first : first + n], then (prev * (n - 1) + v) / n."""
    out = np.full(len(values), np.nan)
    start = first + n - 1
    out[start] = sum(values[first : first + n]) / n
    for i in range(start + 1, len(values)):
        out[i] = (out[i - 1] * (n - 1) + values[i]) / n
    return out


def naive_true_range(h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> np.ndarray:
    tr = np.full(len(c), np.nan)
    for i in range(1, len(c)):
        tr[i] = max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1]))
    return tr


def assert_same(actual: np.ndarray, expected: np.ndarray, tol: float = 1e-9) -> None:
    assert actual.shape == expected.shape
    assert np.array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol, equal_nan=True)


def test_sma_matches_rolling_mean(ohlcv):
    close = ohlcv[2]
    assert_same(ta.sma(close, 20), naive_sma(close, 20))


def test_ema_matches_sma_seeded_recursion(ohlcv):
    close = ohlcv[2]
    assert_same(ta.ema(close, 12), naive_ema(close, 12))


def test_wma_weighs_newest_bar_most(ohlcv):
    close, n = ohlcv[2], 10
    weights = np.arange(1, n + 1, dtype=float)
    expected = np.full(N, np.nan)
    for i in range(n - 1, N):
        expected[i] = (close[i - n + 1 : i + 1] * weights).sum() / weights.sum()
    assert_same(ta.wma(close, n), expected)


def test_rsi_matches_wilder_definition(ohlcv):
    close, n = ohlcv[2], 14
    change = np.concatenate(([np.nan], np.diff(close)))
    gain = wilder(np.where(change > 0, change, 0.0), n, 1)
    loss = wilder(np.where(change < 0, -change, 0.0), n, 1)
    expected = 100 - 100 / (1 + gain / loss)
    assert_same(ta.rsi(close, n), expected, tol=1e-8)


def test_atr_matches_wilder_smoothed_true_range(ohlcv):
    high, low, close, _ = ohlcv
    expected = wilder(naive_true_range(high, low, close), 14, 1)
    assert_same(ta.atr(high, low, close, 14), expected, tol=1e-8)


def test_bollinger_bands_are_sma_plus_minus_population_std(ohlcv):
    close, n, k = ohlcv[2], 20, 2.0
    std = np.full(N, np.nan)
    for i in range(n - 1, N):
        std[i] = np.std(close[i - n + 1 : i + 1])
    bands = ta.bollinger(close, n, k)
    mid = naive_sma(close, n)
    assert_same(bands.middle, mid)
    assert_same(bands.upper, mid + k * std, tol=1e-8)
    assert_same(bands.lower, mid - k * std, tol=1e-8)


def test_macd_line_is_fast_minus_slow_ema_once_settled(ohlcv):
    close = ohlcv[2]
    result = ta.macd(close, 12, 26, 9)
    settled = slice(-60, None)
    expected = naive_ema(close, 12) - naive_ema(close, 26)
    np.testing.assert_allclose(result.macd[settled], expected[settled], atol=1e-9)
    np.testing.assert_allclose(result.hist, result.macd - result.signal, atol=1e-12)


def test_stochastic_is_smoothed_position_in_range(ohlcv):
    high, low, close, _ = ohlcv
    raw = np.full(N, np.nan)
    for i in range(13, N):
        hh, ll = high[i - 13 : i + 1].max(), low[i - 13 : i + 1].min()
        raw[i] = 100 * (close[i] - ll) / (hh - ll)
    k = naive_sma(raw[13:], 3)
    d = naive_sma(k[2:], 3)
    result = ta.stochastic(high, low, close, 14, 3, 3)
    np.testing.assert_allclose(result.k[-50:], k[-50:], rtol=1e-9)
    np.testing.assert_allclose(result.d[-50:], d[-50:], rtol=1e-9)


def test_williams_r_is_distance_from_the_high_of_the_range(ohlcv):
    high, low, close, _ = ohlcv
    expected = np.full(N, np.nan)
    for i in range(13, N):
        hh, ll = high[i - 13 : i + 1].max(), low[i - 13 : i + 1].min()
        expected[i] = -100 * (hh - close[i]) / (hh - ll)
    assert_same(ta.williams_r(high, low, close, 14), expected)


def test_cci_is_typical_price_deviation_over_mean_deviation(ohlcv):
    high, low, close, _ = ohlcv
    tp, n = (high + low + close) / 3, 20
    expected = np.full(N, np.nan)
    for i in range(n - 1, N):
        win = tp[i - n + 1 : i + 1]
        expected[i] = (tp[i] - win.mean()) / (0.015 * np.abs(win - win.mean()).mean())
    assert_same(ta.cci(high, low, close, n), expected, tol=1e-8)


def test_obv_adds_volume_on_up_bars_and_subtracts_on_down_bars(ohlcv):
    _, _, close, volume = ohlcv
    expected = np.empty(N)
    expected[0] = volume[0]
    for i in range(1, N):
        step = np.sign(close[i] - close[i - 1]) * volume[i]
        expected[i] = expected[i - 1] + step
    assert_same(ta.obv(close, volume), expected)


def test_dmi_points_up_and_adx_is_strong_in_a_steady_uptrend():
    close = 100 + np.arange(120) * 1.0
    high, low = close + 0.5, close - 0.5
    dmi = ta.dmi(high, low, close, 14)
    assert dmi.plus_di[-1] > dmi.minus_di[-1]
    assert dmi.adx[-1] > 50
    np.testing.assert_array_equal(dmi.adx, ta.adx(high, low, close, 14))


def test_keltner_is_ema_plus_minus_multiple_of_atr(ohlcv):
    high, low, close, _ = ohlcv
    atr = wilder(naive_true_range(high, low, close), 10, 1)
    mid = naive_ema(close, 20)
    bands = ta.keltner(high, low, close, period=20, multiplier=2.0, atr_period=10)
    assert_same(bands.middle, mid)
    np.testing.assert_allclose(bands.upper, mid + 2.0 * atr, rtol=1e-8, equal_nan=True)
    np.testing.assert_allclose(bands.lower, mid - 2.0 * atr, rtol=1e-8, equal_nan=True)
