"""RSI trend following: ride momentum when RSI breaks out in the direction of the trend."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

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


class RSITrendParams(RiskParams):
    period: int = Field(14, ge=2, le=100, description="RSI period")
    bull_level: float = Field(55.0, ge=50, lt=100, description="BUY when RSI rises through this")
    bear_level: float = Field(45.0, gt=0, le=50, description="SELL when RSI falls through this")
    trend_period: int = Field(50, ge=2, le=400, description="EMA period of the trend filter")

    @field_validator("bear_level")
    @classmethod
    def _below_bull(cls, bear: float, info: ValidationInfo) -> float:
        bull = info.data.get("bull_level")
        if bull is not None and bear >= bull:
            raise ValueError(f"bear_level ({bear}) must be below bull_level ({bull})")
        return bear


@register
class RSITrend(Strategy[RSITrendParams]):
    name = "rsi_trend"
    title = "RSI trend"
    description = (
        "Buys when RSI rises through the bull level while the close is above its trend EMA; "
        "sells when RSI falls through the bear level while the close is below it."
    )
    params_model = RSITrendParams

    @property
    def warmup(self) -> int:
        p = self.params
        return max(5 * p.period + 1, 3 * p.trend_period, p.atr_period + 2)

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        p = self.params
        rsi = ta.rsi(window.close, p.period)
        price = float(window.close[-1])
        if crossed_above_level(rsi, p.bull_level):
            action, past = SignalAction.BUY, float(rsi[-1]) - p.bull_level
        elif crossed_below_level(rsi, p.bear_level):
            action, past = SignalAction.SELL, p.bear_level - float(rsi[-1])
        else:
            return []
        trend = float(ta.ema(window.close, p.trend_period)[-1])
        with_trend = price > trend if action is SignalAction.BUY else price < trend
        if not with_trend:
            return []
        atr = float(ta.atr(window.high, window.low, window.close, p.atr_period)[-1])
        stop, target = stop_and_target(action, price, atr, p)
        confidence = 0.6 + 0.4 * clamp01(past / 10.0)
        side = "above" if action is SignalAction.BUY else "below"
        reason = f"RSI({p.period}) {float(rsi[-1]):.1f} with close {side} EMA({p.trend_period})"
        return [Signal(action, confidence, stop, target, reason)]
