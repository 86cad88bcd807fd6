"""CandleWindow: built from candle messages, cut and extended without copying surprises."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from shared.contracts import SignalAction
from strategy_workers.strategies import CandleWindow, Signal
from strategy_workers.strategies.base import to_ns

from .paths import candle_at, window


def test_from_candles_round_trips_the_bars():
    w = window(np.linspace(100, 105, 6))

    rebuilt = CandleWindow.from_candles([candle_at(w, i) for i in range(len(w))])

    for name in ("ts", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(rebuilt, name), getattr(w, name))


def test_to_ns_is_exact_for_aware_datetimes_in_any_zone():
    ist = timezone(timedelta(hours=5, minutes=30))
    moment = datetime(2024, 5, 2, 9, 15, 0, 123456, tzinfo=ist)

    assert to_ns(moment) == (int(moment.timestamp()) * 10**6 + 123456) * 1000


def test_tail_keeps_the_newest_bars():
    w = window(np.arange(10.0) + 100)

    assert w.tail(3).close.tolist() == [107.0, 108.0, 109.0]


def test_until_drops_bars_that_started_later():
    w = window(np.arange(10.0) + 100)

    assert w.until(int(w.ts[4])).close[-1] == w.close[4]


def test_ending_with_appends_a_candle_the_history_lacks():
    w = window(np.arange(10.0) + 100)

    extended = CandleWindow.ending_with(w.until(int(w.ts[7])), candle_at(w, 8))

    assert extended.close[-2:].tolist() == [w.close[7], w.close[8]]
    assert extended.ts[-1] == w.ts[8]


def test_ending_with_cuts_history_newer_than_the_candle():
    w = window(np.arange(10.0) + 100)

    cut = CandleWindow.ending_with(w, candle_at(w, 5))

    assert len(cut) == 6


def test_ending_with_no_history_is_the_candle_alone():
    w = window(np.arange(3.0) + 100)

    assert len(CandleWindow.ending_with(None, candle_at(w, 2))) == 1


def test_signal_confidence_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="confidence"):
        Signal(SignalAction.BUY, 1.5)
