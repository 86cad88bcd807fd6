"""Two plug-in strategies that trade the same turns of the close: one whose scan reads only
the past, and one whose scan peeks at the next bar (a look-ahead bias the check must find)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from shared.contracts import SignalAction, Timeframe
from strategy_workers.indicators import IntArray
from strategy_workers.strategies.base import CandleWindow, Signal, Strategy, StrategyParams
from strategy_workers.strategies.registry import registry


class TurnParams(StrategyParams):
    pass


class Turn(Strategy[TurnParams]):
    """Buys when the close turns up, sells when it turns down."""

    name = "plugin_turn"
    description = "Test plug-in that trades the turns of the close."
    params_model = TurnParams
    timeframes: ClassVar[frozenset[Timeframe]] = frozenset({Timeframe.M1})

    @property
    def warmup(self) -> int:
        return 3

    def scan(self, history: CandleWindow) -> IntArray | None:
        close = history.close
        up = (close[2:] > close[1:-1]) & (close[1:-1] <= close[:-2])
        down = (close[2:] < close[1:-1]) & (close[1:-1] >= close[:-2])
        return (np.flatnonzero(up | down) + 2).astype(np.int64)

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        a, b, c = (float(x) for x in window.close[-3:])
        if c > b <= a:
            return [Signal(SignalAction.BUY, 0.9, None, None, "up")]
        if c < b >= a:
            return [Signal(SignalAction.SELL, 0.9, None, None, "down")]
        return []


class PeekingTurn(Turn):
    """The same turns, but the scan keeps only those the next bar carries on (the winners):
    it reads the future, so on data cut at a signal's bar the scan no longer finds it."""

    name = "plugin_turn_peeking"

    def scan(self, history: CandleWindow) -> IntArray | None:
        found = super().scan(history)
        assert found is not None
        c = history.close
        winners = [
            i
            for i in found.tolist()
            if i + 1 < len(c) and (c[i + 1] - c[i]) * (c[i] - c[i - 1]) > 0
        ]
        return np.asarray(winners, dtype=np.int64)


@pytest.fixture
def turn_plugins(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Both plug-ins registered for the test: (clean, peeking)."""
    registry.names()  # the built-ins and entry points are loaded first
    monkeypatch.setitem(registry._classes, Turn.name, Turn)
    monkeypatch.setitem(registry._classes, PeekingTurn.name, PeekingTurn)
    return Turn.name, PeekingTurn.name
