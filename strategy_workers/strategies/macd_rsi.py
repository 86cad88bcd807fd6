"""MACD + RSI: trade MACD signal-line crosses that RSI does not call exhausted."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from shared.contracts import SignalAction
from strategy_workers import indicators as ta
from strategy_workers.strategies._rules import (
    RiskParams,
    clamp01,
    crossed_above,
    crossed_below,
    stop_and_target,
)
from strategy_workers.strategies.base import CandleWindow, Signal, Strategy
from strategy_workers.strategies.registry import register


class MACDRSIParams(RiskParams):
    fast: int = Field(12, ge=2, le=100, description="MACD fast EMA period")
    slow: int = Field(26, ge=3, le=200, description="MACD slow EMA period (> fast)")
    signal: int = Field(9, ge=2, le=100, description="MACD signal EMA period")
    rsi_period: int = Field(14, ge=2, le=100, description="RSI period")
    oversold: float = Field(30.0, gt=0, lt=50, description="no SELL while RSI is at or below this")
    overbought: float = Field(
        70.0, gt=50, lt=100, description="no BUY while RSI is at or above this"
    )

    @field_validator("slow")
    @classmethod
    def _slower_than_fast(cls, slow: int, info: ValidationInfo) -> int:
        fast = info.data.get("fast")
        if fast is not None and slow <= fast:
            raise ValueError(f"slow ({slow}) must be greater than fast ({fast})")
        return slow


@register
class MACDRSI(Strategy[MACDRSIParams]):
    name = "macd_rsi"
    title = "MACD with RSI filter"
    description = (
        "Buys when the MACD line crosses above its signal line while RSI is below overbought; "
        "sells on the opposite cross while RSI is above oversold."
    )
    params_model = MACDRSIParams

    @property
    def warmup(self) -> int:
        p = self.params
        return max(3 * p.slow + p.signal, 5 * p.rsi_period + 1, p.atr_period + 2)

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        p = self.params
        line, signal, _ = ta.macd(window.close, p.fast, p.slow, p.signal)
        if crossed_above(line, signal):
            action = SignalAction.BUY
        elif crossed_below(line, signal):
            action = SignalAction.SELL
        else:
            return []
        rsi = float(ta.rsi(window.close, p.rsi_period)[-1])
        span = p.overbought - p.oversold
        if action is SignalAction.BUY:
            if not rsi < p.overbought:
                return []
            room = (p.overbought - rsi) / span
        else:
            if not rsi > p.oversold:
                return []
            room = (rsi - p.oversold) / span
        price = float(window.close[-1])
        atr = float(ta.atr(window.high, window.low, window.close, p.atr_period)[-1])
        stop, target = stop_and_target(action, price, atr, p)
        # The more room RSI leaves before exhaustion, the more the cross is worth.
        confidence = 0.5 + 0.5 * clamp01(room)
        direction = "above" if action is SignalAction.BUY else "below"
        reason = f"MACD({p.fast},{p.slow},{p.signal}) crossed {direction} signal, RSI {rsi:.1f}"
        return [Signal(action, confidence, stop, target, reason)]
