"""Each catalog strategy fires on a price path built to trigger it, and stays quiet otherwise."""

from __future__ import annotations

import numpy as np

from shared.contracts import SignalAction
from strategy_workers import indicators as ta
from strategy_workers.strategies import build_strategy, list_strategies

from .paths import actions, calm, signals_by_bar, v_shape, window


def first_bar_where(condition: np.ndarray) -> int:
    return int(np.flatnonzero(condition)[0])


# -- moving-average crossover ----------------------------------------------------------------


def test_ma_crossover_buys_on_the_bar_the_fast_sma_crosses_above_the_slow():
    w = window(v_shape(down=60, up=40))
    fast, slow = ta.sma(w.close, 10), ta.sma(w.close, 30)
    above = fast > slow
    cross = first_bar_where(above[1:] & ~above[:-1] & ~np.isnan(slow[:-1])) + 1

    found = signals_by_bar(build_strategy("ma_crossover", {"fast": 10, "slow": 30}), w)

    assert list(found) == [cross]
    assert found[cross][0].action is SignalAction.BUY


def test_ma_crossover_sells_when_the_fast_average_crosses_below():
    found = signals_by_bar(build_strategy("ma_crossover"), window(210 - v_shape()))

    assert actions(found) == ["SELL"]


def test_ma_crossover_is_silent_in_a_steady_trend():
    found = signals_by_bar(build_strategy("ma_crossover"), window(100 + np.arange(120) * 0.5))

    assert found == {}


def test_ma_crossover_with_ema_buys_the_v_bottom_once():
    found = signals_by_bar(build_strategy("ma_crossover", {"ma_type": "ema"}), window(v_shape(120)))

    assert actions(found) == ["BUY"]


def test_ma_crossover_buy_has_stop_below_and_target_above_the_close():
    w = window(v_shape())
    bar, (signal,) = next(iter(signals_by_bar(build_strategy("ma_crossover"), w).items()))
    price = w.close[bar]

    assert signal.stop < price < signal.target
    assert np.isclose(signal.target - price, 2.0 * (price - signal.stop))


# -- RSI mean reversion ----------------------------------------------------------------------


def drop_then_recover() -> np.ndarray:
    base = calm(100)
    drop = base[-1] - np.arange(1, 13) * 1.0
    return np.concatenate([base, drop, drop[-1] + np.arange(1, 30) * 1.0])


def test_rsi_mean_reversion_buys_on_the_bar_rsi_enters_oversold():
    w = window(drop_then_recover())
    rsi = ta.rsi(w.close, 14)

    found = signals_by_bar(build_strategy("rsi_mean_reversion"), w)

    first_buy = next(bar for bar, sigs in found.items() if sigs[0].action is SignalAction.BUY)
    assert first_buy == first_bar_where(rsi < 30)


def test_rsi_mean_reversion_sells_into_overbought():
    found = signals_by_bar(build_strategy("rsi_mean_reversion"), window(200 - drop_then_recover()))

    assert actions(found)[0] == "SELL"


def test_rsi_mean_reversion_is_silent_in_a_sideways_market():
    found = signals_by_bar(build_strategy("rsi_mean_reversion"), window(calm(200)))

    assert found == {}


def test_rsi_mean_reversion_exits_when_rsi_returns_to_the_midline():
    strategy = build_strategy("rsi_mean_reversion", {"exit_on_midline": True})

    w = window(drop_then_recover())
    rsi = ta.rsi(w.close, 14)

    found = signals_by_bar(strategy, w)

    buy = next(bar for bar, sigs in found.items() if sigs[0].action is SignalAction.BUY)
    after = [bar for bar in found if bar > buy]
    assert found[after[0]][0].action is SignalAction.EXIT
    assert after[0] == buy + first_bar_where(rsi[buy:] > 50)


# -- MACD + RSI ------------------------------------------------------------------------------


def wave(n: int = 240, period: int = 60, amplitude: float = 10.0) -> np.ndarray:
    return 100 + amplitude * np.sin(np.arange(n) * 2 * np.pi / period)


def test_macd_rsi_buys_after_troughs_and_sells_after_peaks():
    w = window(wave())
    found = signals_by_bar(build_strategy("macd_rsi"), w)

    slope = np.gradient(w.close)
    for bar, (signal,) in found.items():
        rising = slope[bar] > 0
        assert rising == (signal.action is SignalAction.BUY)
    assert {"BUY", "SELL"} <= set(actions(found))


def test_macd_rsi_ignores_a_bullish_cross_while_rsi_is_overbought():
    # A steep staircase: MACD wobbles across its signal line while RSI stays pinned high.
    i = np.arange(200)
    w = window(100 + i * 1.0 + np.sin(i * 1.3) * 0.3)
    line, signal, _ = ta.macd(w.close)
    rsi = ta.rsi(w.close, 14)
    crosses_up = (line[1:] > signal[1:]) & (line[:-1] <= signal[:-1])
    assert (crosses_up & (rsi[1:] >= 70)).any()  # the filter has something to filter

    found = signals_by_bar(build_strategy("macd_rsi"), w)

    assert "BUY" not in actions(found)


# -- RSI trend following ---------------------------------------------------------------------


def trend_with_pullback() -> np.ndarray:
    up = 100 + np.arange(200) * 0.4
    pullback = up[-1] - np.arange(1, 8) * 1.0
    return np.concatenate([up, pullback, pullback[-1] + np.arange(1, 10) * 1.0])


def test_rsi_trend_buys_when_momentum_resumes_above_the_trend_ema():
    found = signals_by_bar(build_strategy("rsi_trend"), window(trend_with_pullback()))

    assert actions(found) == ["BUY"]


def test_rsi_trend_sells_when_momentum_resumes_below_the_trend_ema():
    found = signals_by_bar(build_strategy("rsi_trend"), window(300 - trend_with_pullback()))

    assert actions(found) == ["SELL"]


def test_rsi_trend_ignores_a_bounce_against_a_downtrend():
    down = 200 - np.arange(200) * 0.4
    bounce = np.concatenate([down, down[-1] + np.arange(1, 8) * 0.8])
    w = window(bounce)
    assert (ta.rsi(w.close, 14)[-8:] > 55).any()  # RSI did cross the bull level

    found = signals_by_bar(build_strategy("rsi_trend"), w)

    assert found == {}


# -- Bollinger breakout and squeeze ----------------------------------------------------------


def quiet(n: int = 60) -> np.ndarray:
    return 100 + np.sin(np.arange(n) * 0.9) * 0.5


def test_bollinger_breakout_buys_the_close_above_the_upper_band():
    closes = np.concatenate([quiet(), [104.0, 104.5, 105.0]])

    found = signals_by_bar(build_strategy("bollinger_breakout"), window(closes))

    assert list(found) == [60]
    assert found[60][0].action is SignalAction.BUY


def test_bollinger_breakout_sells_the_close_below_the_lower_band():
    found = signals_by_bar(
        build_strategy("bollinger_breakout"), window(np.concatenate([quiet(), [96.0, 95.5]]))
    )

    assert actions(found) == ["SELL"]


def test_bollinger_breakout_is_silent_inside_the_bands():
    assert signals_by_bar(build_strategy("bollinger_breakout"), window(quiet(120))) == {}


def test_bollinger_breakout_stop_is_at_least_back_at_the_middle_band():
    closes = np.concatenate([quiet(), [104.0]])
    w = window(closes)
    middle = ta.bollinger(w.close, 20, 2.0).middle[-1]

    (signal,) = build_strategy("bollinger_breakout").evaluate(w)

    assert signal.stop <= middle


def squeeze_path(tail: list[float]) -> np.ndarray:
    i = np.arange(150)
    wild_then_quiet = 100 + np.sin(i * 0.9) * np.where(i < 80, 4.0, 0.1)
    return np.concatenate([wild_then_quiet, tail])


def test_bollinger_squeeze_trades_the_release_in_its_direction():
    up = signals_by_bar(
        build_strategy("bollinger_squeeze"), window(squeeze_path([101.5, 103.0, 104.5]), spread=0.3)
    )
    down = signals_by_bar(
        build_strategy("bollinger_squeeze"), window(squeeze_path([98.5, 97.0, 95.5]), spread=0.3)
    )

    assert actions(up) == ["BUY"]
    assert actions(down) == ["SELL"]


def test_bollinger_squeeze_needs_a_squeeze_before_the_expansion():
    i = np.arange(150)
    wild = np.concatenate([100 + np.sin(i * 0.9) * 4.0, [110.0, 112.0]])

    assert signals_by_bar(build_strategy("bollinger_squeeze"), window(wild, spread=0.3)) == {}


def test_bollinger_squeeze_stays_quiet_while_squeezed():
    found = signals_by_bar(
        build_strategy("bollinger_squeeze"), window(squeeze_path([]), spread=0.3)
    )

    assert found == {}


# -- support / resistance breakout -----------------------------------------------------------


def range_then(last: float) -> np.ndarray:
    """A range whose highs reach 105.0 and lows 99.8 every six bars, then one more close."""
    return np.concatenate([np.tile([100, 101.6, 103.2, 104.8, 103.2, 101.6], 8), [last]])


def test_sr_breakout_buys_the_close_above_a_thrice_touched_resistance():
    (signal,) = build_strategy("sr_breakout").evaluate(window(range_then(106.0), spread=0.2))

    assert signal.action is SignalAction.BUY
    assert "105" in signal.reason
    assert signal.stop < 105.0


def test_sr_breakout_sells_the_close_below_support():
    (signal,) = build_strategy("sr_breakout").evaluate(window(range_then(99.0), spread=0.2))

    assert signal.action is SignalAction.SELL


def test_sr_breakout_needs_the_minimum_number_of_touches():
    strategy = build_strategy("sr_breakout", {"min_touches": 4})

    assert strategy.evaluate(window(range_then(106.0), spread=0.2)) == []


def test_sr_breakout_is_silent_inside_the_range():
    assert build_strategy("sr_breakout").evaluate(window(range_then(104.0), spread=0.2)) == []


# -- multi-indicator vote --------------------------------------------------------------------


def sharp_drop() -> np.ndarray:
    base = calm(120)
    return np.concatenate([base, base[-1] - np.arange(1, 10) * 1.2])


def test_multi_indicator_buys_once_when_the_vote_reaches_sixty_percent():
    strategy = build_strategy("multi_indicator")

    found = signals_by_bar(strategy, window(sharp_drop()))

    ((_, (signal,)),) = found.items()
    assert signal.action is SignalAction.BUY
    assert signal.confidence >= 0.6


def test_multi_indicator_sells_on_the_mirror_image():
    found = signals_by_bar(build_strategy("multi_indicator"), window(200 - sharp_drop()))

    assert actions(found) == ["SELL"]


def test_multi_indicator_respects_a_higher_confidence_bar():
    strategy = build_strategy("multi_indicator", {"min_confidence": 0.9})

    assert signals_by_bar(strategy, window(sharp_drop())) == {}


def test_multi_indicator_stop_is_the_wider_of_two_percent_and_one_and_a_half_atr():
    w = window(sharp_drop())
    strategy = build_strategy("multi_indicator")
    bar = next(iter(signals_by_bar(strategy, w)))
    sub = w.until(int(w.ts[bar])).tail(strategy.warmup)
    (signal,) = strategy.evaluate(sub)
    price = sub.close[-1]
    atr = ta.atr(sub.high, sub.low, sub.close, 14)[-1]

    risk = price - signal.stop
    assert np.isclose(risk, max(0.02 * price, 1.5 * atr))
    assert np.isclose(signal.target - price, 3 * risk)


# -- ADX-gated breakout ----------------------------------------------------------------------


def trend_pause_breakout() -> np.ndarray:
    i = np.arange(100)
    up = 100 + i * 1.0 + np.sin(i * 1.3) * 0.3
    pause = up[-1] - np.array([0.6, 1.0, 0.8, 1.2, 0.7, 0.9])
    return np.concatenate([up, pause, [up[-1] + 2.5, up[-1] + 3.5]])


def test_adx_breakout_buys_a_breakout_in_a_strong_uptrend():
    found = signals_by_bar(build_strategy("adx_breakout"), window(trend_pause_breakout()))

    ((_, (signal,)),) = found.items()
    assert signal.action is SignalAction.BUY
    assert signal.confidence > 0.7


def test_adx_breakout_sells_a_breakdown_in_a_strong_downtrend():
    found = signals_by_bar(build_strategy("adx_breakout"), window(400 - trend_pause_breakout()))

    assert actions(found) == ["SELL"]


def test_adx_breakout_ignores_a_breakout_from_a_trendless_range():
    closes = np.concatenate([100 + np.sin(np.arange(100) * 1.3) * 1.0, [103.0, 104.0]])
    w = window(closes)
    assert w.close[-2] > w.high[-22:-2].max()  # it is a breakout; only ADX says no

    assert signals_by_bar(build_strategy("adx_breakout"), w) == {}


def test_adx_breakout_stop_is_the_wider_of_three_percent_and_two_atr_with_target_four_r():
    w = window(trend_pause_breakout())
    strategy = build_strategy("adx_breakout")
    bar = next(iter(signals_by_bar(strategy, w)))
    sub = w.until(int(w.ts[bar])).tail(strategy.warmup)
    (signal,) = strategy.evaluate(sub)
    price = sub.close[-1]
    atr = ta.atr(sub.high, sub.low, sub.close, 14)[-1]

    risk = price - signal.stop
    assert np.isclose(risk, max(0.03 * price, 2 * atr))
    assert np.isclose(signal.target - price, 4 * risk)


# -- every strategy --------------------------------------------------------------------------


def test_every_strategy_is_silent_on_a_window_shorter_than_its_warmup():
    short = window(wave(30))
    for info in list_strategies():
        assert build_strategy(info.name).evaluate(short.tail(5)) == [], info.name


def test_every_strategy_gives_the_same_answer_for_the_same_window():
    rng = np.random.default_rng(3)
    w = window(100 + np.cumsum(rng.normal(0, 1, 300)))
    for info in list_strategies():
        strategy = build_strategy(info.name)
        first = signals_by_bar(strategy, w)
        assert signals_by_bar(strategy, w) == first, info.name
