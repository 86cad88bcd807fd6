"""Bollinger band breakout: trade the bar whose close leaves the bands."""

from __future__ import annotations

from pydantic import Field

from shared.contracts import SignalAction
from strategy_workers import indicators as ta
from strategy_workers.strategies._rules import (
    RiskParams,
    clamp01,
    crossed_above,
    crossed_below,
    stop_and_target,
    stop_target_from_distance,
)
from strategy_workers.strategies.base import CandleWindow, Signal, Strategy
from strategy_workers.strategies.registry import register


class BollingerBreakoutParams(RiskParams):
    period: int = Field(20, ge=2, le=200, description="Bollinger band period")
    nbdev: float = Field(2.0, gt=0, le=5, description="band width in standard deviations")


@register
class BollingerBreakout(Strategy[BollingerBreakoutParams]):
    name = "bollinger_breakout"
    title = "Bollinger breakout"
    description = (
        "Buys when the close crosses above the upper Bollinger band, sells when it crosses "
        "below the lower band; stop at the middle band (or the ATR stop if wider)."
    )
    params_model = BollingerBreakoutParams

    @property
    def warmup(self) -> int:
        return max(self.params.period + 1, self.params.atr_period + 2)

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        p = self.params
        upper, middle, lower = ta.bollinger(window.close, p.period, p.nbdev)
        close = window.close
        if crossed_above(close, upper):
            action, band = SignalAction.BUY, float(upper[-1])
        elif crossed_below(close, lower):
            action, band = SignalAction.SELL, float(lower[-1])
        else:
            return []
        price = float(close[-1])
        mid = float(middle[-1])
        atr = float(ta.atr(window.high, window.low, close, p.atr_period)[-1])
        atr_stop, _ = stop_and_target(action, price, atr, p)
        # Back inside the middle band the breakout has failed; never closer than the ATR stop.
        distance = max(abs(price - mid), abs(price - atr_stop) if atr_stop is not None else 0.0)
        stop, target = stop_target_from_distance(action, price, distance, p.reward_risk)
        half_width = abs(band - mid)
        confidence = 0.5 + 0.5 * clamp01(abs(price - band) / half_width if half_width > 0 else 0.0)
        side = "above the upper" if action is SignalAction.BUY else "below the lower"
        reason = f"close {price:g} broke {side} band BB({p.period},{p.nbdev:g})"
        return [Signal(action, confidence, stop, target, reason)]
