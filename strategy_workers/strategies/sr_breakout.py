"""Support/resistance breakout: trade a close through a level the market respected several times."""

from __future__ import annotations

from pydantic import Field

from shared.contracts import SignalAction
from strategy_workers import indicators as ta
from strategy_workers.strategies._rules import (
    RiskParams,
    clamp01,
    stop_target_from_distance,
)
from strategy_workers.strategies.base import CandleWindow, Signal, Strategy
from strategy_workers.strategies.registry import register


class SRBreakoutParams(RiskParams):
    lookback: int = Field(
        20, ge=5, le=500, description="bars searched for levels (before the last)"
    )
    min_touches: int = Field(3, ge=1, le=20, description="swing points needed to make a level")
    tolerance: float = Field(
        0.005, gt=0, le=0.05, description="swing points this close (relative) form one level"
    )
    swing_order: int = Field(2, ge=1, le=10, description="bars each side a swing point must beat")
    atr_multiple: float = Field(
        1.0, ge=0.0, le=10.0, description="stop this many ATRs beyond the level"
    )


@register
class SRBreakout(Strategy[SRBreakoutParams]):
    name = "sr_breakout"
    title = "Support/resistance breakout"
    description = (
        "Finds resistance (clustered swing highs) and support (clustered swing lows) touched at "
        "least min_touches times in the lookback; buys the bar that closes above resistance, "
        "sells the bar that closes below support."
    )
    params_model = SRBreakoutParams

    @property
    def warmup(self) -> int:
        return max(self.params.lookback + 1, 3 * self.params.atr_period)

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        p = self.params
        if len(window) < p.lookback + 2:
            return []
        prev, price = float(window.close[-2]), float(window.close[-1])
        # A close can only break resistance by rising and support by falling: look one way.
        if price > prev:
            high = window.high[-p.lookback - 1 : -1]
            levels = ta.cluster_levels(high[ta.swing_highs(high, p.swing_order)], p.tolerance)
            broken = (levels.touches >= p.min_touches) & (levels.price >= prev)
            broken &= levels.price < price
            action, pick = SignalAction.BUY, -1  # the highest level broken
        elif price < prev:
            low = window.low[-p.lookback - 1 : -1]
            levels = ta.cluster_levels(low[ta.swing_lows(low, p.swing_order)], p.tolerance)
            broken = (levels.touches >= p.min_touches) & (levels.price <= prev)
            broken &= levels.price > price
            action, pick = SignalAction.SELL, 0  # the lowest level broken
        else:
            return []
        if not broken.any():
            return []
        # Levels come sorted ascending, so the extreme broken one is at either end.
        level = float(levels.price[broken][pick])
        touches = int(levels.touches[broken][pick])
        return [self._signal(window, action, level, touches)]

    def _signal(
        self, window: CandleWindow, action: SignalAction, level: float, touches: int
    ) -> Signal:
        p = self.params
        price = float(window.close[-1])
        atr = float(ta.atr(window.high, window.low, window.close, p.atr_period)[-1])
        atr = atr if atr > 0 else price * p.stop_pct
        # Stop a little beyond the level the close just broke, never tighter than stop_pct.
        distance = max(abs(price - level) + p.atr_multiple * atr, price * p.stop_pct)
        stop, target = stop_target_from_distance(action, price, distance, p.reward_risk)
        extra_touches = 0.1 * (touches - p.min_touches)
        thrust = 0.2 * clamp01(abs(price - level) / atr)
        confidence = min(1.0, 0.6 + extra_touches + thrust)
        kind = "resistance" if action is SignalAction.BUY else "support"
        reason = f"close {price:g} broke {kind} {level:g} ({touches} touches)"
        return Signal(action, confidence, stop, target, reason)
