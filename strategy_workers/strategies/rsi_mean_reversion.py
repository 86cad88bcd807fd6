"""RSI mean reversion: buy into oversold, sell into overbought, exit back at the midline."""

from __future__ import annotations

from pydantic import Field

from shared.contracts import SignalAction
from strategy_workers import indicators as ta
from strategy_workers.strategies._rules import (
    RiskParams,
    clamp01,
    crossed_above_level,
    crossed_below_level,
    stop_and_target,
)
from strategy_workers.strategies.base import CandleWindow, Signal, Strategy
from strategy_workers.strategies.registry import register


class RSIMeanReversionParams(RiskParams):
    period: int = Field(14, ge=2, le=100, description="RSI period")
    oversold: float = Field(30.0, gt=0, lt=50, description="RSI below this is oversold")
    overbought: float = Field(70.0, gt=50, lt=100, description="RSI above this is overbought")
    exit_on_midline: bool = Field(False, description="emit EXIT when RSI crosses 50")


@register
class RSIMeanReversion(Strategy[RSIMeanReversionParams]):
    name = "rsi_mean_reversion"
    title = "RSI mean reversion"
    description = (
        "Buys on the bar RSI falls below the oversold level and sells on the bar it rises "
        "above the overbought level; optionally exits when RSI crosses back through 50."
    )
    params_model = RSIMeanReversionParams

    @property
    def warmup(self) -> int:
        # Wilder smoothing forgets its seed after a few periods.
        return max(5 * self.params.period + 1, self.params.atr_period + 2)

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        p = self.params
        rsi = ta.rsi(window.close, p.period)
        last = float(rsi[-1])
        if crossed_below_level(rsi, p.oversold):
            return [self._entry(window, SignalAction.BUY, p.oversold - last, "oversold")]
        if crossed_above_level(rsi, p.overbought):
            return [self._entry(window, SignalAction.SELL, last - p.overbought, "overbought")]
        if p.exit_on_midline and (crossed_above_level(rsi, 50.0) or crossed_below_level(rsi, 50.0)):
            return [
                Signal(SignalAction.EXIT, 1.0, reason=f"RSI({p.period}) crossed 50 ({last:.1f})")
            ]
        return []

    def _entry(self, window: CandleWindow, action: SignalAction, depth: float, zone: str) -> Signal:
        p = self.params
        price = float(window.close[-1])
        atr = float(ta.atr(window.high, window.low, window.close, p.atr_period)[-1])
        stop, target = stop_and_target(action, price, atr, p)
        # 0.6 at the threshold, 1.0 ten RSI points past it.
        confidence = 0.6 + 0.4 * clamp01(depth / 10.0)
        return Signal(action, confidence, stop, target, f"RSI({p.period}) entered {zone} zone")
