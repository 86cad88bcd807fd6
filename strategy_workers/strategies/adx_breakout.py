"""ADX-gated breakout: trade a channel breakout only when a strong trend stands behind it."""

from __future__ import annotations

from pydantic import Field

from shared.contracts import SignalAction
from strategy_workers import indicators as ta
from strategy_workers.strategies._rules import RiskParams, clamp01, stop_and_target
from strategy_workers.strategies.base import CandleWindow, Signal, Strategy
from strategy_workers.strategies.registry import register


class ADXBreakoutParams(RiskParams):
    lookback: int = Field(
        20, ge=2, le=500, description="channel of the highs/lows of this many bars"
    )
    adx_period: int = Field(14, ge=2, le=100, description="ADX/DMI period")
    adx_threshold: float = Field(25.0, ge=0, le=100, description="act only when ADX exceeds this")
    min_confidence: float = Field(
        0.7, ge=0, lt=1, description="act only when confidence exceeds this"
    )
    stop_pct: float = Field(0.03, ge=0.0, le=0.5)
    atr_multiple: float = Field(2.0, ge=0.0, le=10.0)
    reward_risk: float = Field(4.0, gt=0.0, le=20.0)


@register
class ADXBreakout(Strategy[ADXBreakoutParams]):
    name = "adx_breakout"
    title = "ADX breakout"
    description = (
        "Buys the first close above the highest high of the lookback (sells the first close "
        "below the lowest low) when ADX > 25 and the dominant DI agrees; confidence must exceed "
        "70%. Stop 3% or 2 ATR (the wider), target 4x risk."
    )
    params_model = ADXBreakoutParams

    @property
    def warmup(self) -> int:
        p = self.params
        return max(p.lookback + 2, 6 * p.adx_period, p.atr_period + 2)

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        p = self.params
        h, lo, c = window.high, window.low, window.close
        if len(c) < p.lookback + 2:
            return []
        n = p.lookback
        top, prev_top = float(h[-n - 1 : -1].max()), float(h[-n - 2 : -2].max())
        bottom, prev_bottom = float(lo[-n - 1 : -1].min()), float(lo[-n - 2 : -2].min())
        price, prev = float(c[-1]), float(c[-2])
        if price > top and prev <= prev_top:
            action, level = SignalAction.BUY, top
        elif price < bottom and prev >= prev_bottom:
            action, level = SignalAction.SELL, bottom
        else:
            return []
        plus_di, minus_di, adx_line = ta.dmi(h, lo, c, p.adx_period)
        adx, pdi, mdi = float(adx_line[-1]), float(plus_di[-1]), float(minus_di[-1])
        lead, lag = (pdi, mdi) if action is SignalAction.BUY else (mdi, pdi)
        if not (adx > p.adx_threshold and lead > lag):
            return []
        atr = float(ta.atr(h, lo, c, p.atr_period)[-1])
        thrust = abs(price - level) / atr if atr > 0 else 0.0
        confidence = (
            0.4 * clamp01(adx / 50.0)
            + 0.3 * clamp01((lead - lag) / (lead + lag))
            + 0.3 * clamp01(thrust)
        )
        if not confidence > p.min_confidence:
            return []
        stop, target = stop_and_target(action, price, atr, p)
        side = "above the high" if action is SignalAction.BUY else "below the low"
        reason = f"close {price:g} broke {side} of {n} bars with ADX {adx:.1f}"
        return [Signal(action, confidence, stop, target, reason)]
