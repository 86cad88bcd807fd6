"""Moving-average crossover: trade the bar on which a fast average crosses a slow one."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from shared.contracts import SignalAction
from strategy_workers import indicators as ta
from strategy_workers.indicators import IntArray
from strategy_workers.strategies._rules import (
    RiskParams,
    clamp01,
    crossed_above,
    crossed_below,
    stop_and_target,
)
from strategy_workers.strategies.base import CandleWindow, Signal, Strategy
from strategy_workers.strategies.registry import register


class MACrossoverParams(RiskParams):
    fast: int = Field(10, ge=2, le=200, description="fast moving-average period")
    slow: int = Field(30, ge=3, le=400, description="slow moving-average period (> fast)")
    ma_type: Literal["sma", "ema"] = Field("sma", description="kind of moving average")

    @field_validator("slow")
    @classmethod
    def _slower_than_fast(cls, slow: int, info: ValidationInfo) -> int:
        fast = info.data.get("fast")
        if fast is not None and slow <= fast:
            raise ValueError(f"slow ({slow}) must be greater than fast ({fast})")
        return slow


@register
class MACrossover(Strategy[MACrossoverParams]):
    name = "ma_crossover"
    title = "Moving-average crossover"
    description = (
        "Buys when the fast moving average crosses above the slow one on the last bar, "
        "sells when it crosses below. SMA or EMA."
    )
    params_model = MACrossoverParams

    @property
    def warmup(self) -> int:
        p = self.params
        # An EMA needs a few periods past its SMA seed before it stops depending on the start.
        slow_bars = 3 * p.slow if p.ma_type == "ema" else p.slow + 1
        return max(slow_bars, p.atr_period + 2)

    def scan(self, history: CandleWindow) -> IntArray | None:
        """The bars where the averages may cross: the sign of fast - slow changes (or nearly).

        SMAs over the whole history equal the windowed ones up to rounding, so a small
        tolerance keeps the candidates a superset; an EMA depends on its window's start,
        so EMA crossovers are evaluated on every bar.
        """
        p = self.params
        if p.ma_type != "sma":
            return None
        close = history.close
        diff = ta.sma(close, p.fast) - ta.sma(close, p.slow)
        eps = 1e-9 * np.abs(close)
        before, now = diff[:-1], diff[1:]
        up = (before <= eps[1:]) & (now > -eps[1:])
        down = (before >= -eps[1:]) & (now < eps[1:])
        found = np.flatnonzero(up | down) + 1
        return found[found >= self.warmup - 1].astype(np.int64)

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        p = self.params
        average = ta.ema if p.ma_type == "ema" else ta.sma
        fast = average(window.close, p.fast)
        slow = average(window.close, p.slow)
        if crossed_above(fast, slow):
            action = SignalAction.BUY
        elif crossed_below(fast, slow):
            action = SignalAction.SELL
        else:
            return []
        price = float(window.close[-1])
        atr = float(ta.atr(window.high, window.low, window.close, p.atr_period)[-1])
        gap = abs(float(fast[-1] - slow[-1]))
        # A cross that opens a gap of a full ATR at once is as strong as this rule gets.
        confidence = 0.5 + 0.5 * clamp01(gap / atr if atr > 0 else 0.0)
        stop, target = stop_and_target(action, price, atr, p)
        direction = "above" if action is SignalAction.BUY else "below"
        return [
            Signal(
                action,
                confidence,
                stop,
                target,
                f"{p.ma_type.upper()}({p.fast}) crossed {direction} {p.ma_type.upper()}({p.slow})",
            )
        ]
