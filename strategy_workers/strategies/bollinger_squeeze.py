"""Bollinger squeeze: after the bands sit inside the Keltner channel, trade the release."""

from __future__ import annotations

from pydantic import Field

from shared.contracts import SignalAction
from strategy_workers import indicators as ta
from strategy_workers.strategies._rules import RiskParams, clamp01, stop_and_target
from strategy_workers.strategies.base import CandleWindow, Signal, Strategy
from strategy_workers.strategies.registry import register


class BollingerSqueezeParams(RiskParams):
    period: int = Field(20, ge=2, le=200, description="Bollinger and Keltner period")
    nbdev: float = Field(2.0, gt=0, le=5, description="Bollinger width in standard deviations")
    keltner_multiplier: float = Field(1.5, gt=0, le=5, description="Keltner width in ATRs")
    min_squeeze_bars: int = Field(6, ge=1, le=100, description="bars squeezed before a release")


@register
class BollingerSqueeze(Strategy[BollingerSqueezeParams]):
    name = "bollinger_squeeze"
    title = "Bollinger squeeze"
    description = (
        "Waits until the Bollinger bands have been inside the Keltner channel for a number of "
        "bars, then trades the bar they expand out of it, in the direction of the close "
        "relative to the middle band."
    )
    params_model = BollingerSqueezeParams

    @property
    def warmup(self) -> int:
        p = self.params
        return max(3 * p.period + p.min_squeeze_bars, p.atr_period + 2)

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        p = self.params
        n = p.min_squeeze_bars + 1
        bb_up, bb_mid, bb_low = ta.bollinger(window.close, p.period, p.nbdev)
        kc_up, _, kc_low = ta.keltner(
            window.high, window.low, window.close, p.period, p.keltner_multiplier, p.period
        )
        squeezed = (bb_up[-n:] < kc_up[-n:]) & (bb_low[-n:] > kc_low[-n:])
        if squeezed[-1] or not squeezed[:-1].all():
            return []
        price = float(window.close[-1])
        mid = float(bb_mid[-1])
        if price > mid:
            action = SignalAction.BUY
        elif price < mid:
            action = SignalAction.SELL
        else:
            return []
        atr = float(ta.atr(window.high, window.low, window.close, p.atr_period)[-1])
        stop, target = stop_and_target(action, price, atr, p)
        half_width = float(bb_up[-1]) - mid
        confidence = 0.5 + 0.5 * clamp01(abs(price - mid) / half_width if half_width > 0 else 0.0)
        reason = f"squeeze of {p.min_squeeze_bars}+ bars released, close {price:g} vs mid {mid:g}"
        return [Signal(action, confidence, stop, target, reason)]
