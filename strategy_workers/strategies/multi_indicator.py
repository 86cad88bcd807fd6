"""Multi-indicator weighted vote: six indicators, one confidence, trade when it passes a bar."""

from __future__ import annotations

from typing import NamedTuple

from pydantic import Field

from shared.contracts import SignalAction
from strategy_workers import indicators as ta
from strategy_workers.indicators import FloatArray
from strategy_workers.strategies._rules import RiskParams, stop_and_target
from strategy_workers.strategies.base import CandleWindow, Signal, Strategy
from strategy_workers.strategies.registry import register


class MultiIndicatorParams(RiskParams):
    w_rsi: float = Field(0.25, ge=0, le=1, description="weight of the RSI vote")
    w_macd: float = Field(0.25, ge=0, le=1, description="weight of the MACD vote")
    w_bollinger: float = Field(0.20, ge=0, le=1, description="weight of the Bollinger vote")
    w_adx: float = Field(0.15, ge=0, le=1, description="weight of the ADX confirmation")
    w_stochastic: float = Field(0.10, ge=0, le=1, description="weight of the stochastic vote")
    w_atr: float = Field(
        0.05, ge=0, le=1, description="weight of the ATR (volatility) confirmation"
    )
    min_confidence: float = Field(0.6, gt=0, le=1, description="act at or above this confidence")
    rsi_period: int = Field(14, ge=2, le=100)
    oversold: float = Field(30.0, gt=0, lt=50)
    overbought: float = Field(70.0, gt=50, lt=100)
    bb_period: int = Field(20, ge=2, le=200)
    bb_nbdev: float = Field(2.0, gt=0, le=5)
    adx_period: int = Field(14, ge=2, le=100)
    adx_threshold: float = Field(25.0, ge=0, le=100)
    stoch_k: int = Field(14, ge=2, le=100)
    stoch_oversold: float = Field(20.0, gt=0, lt=50)
    stoch_overbought: float = Field(80.0, gt=50, lt=100)
    max_atr_pct: float = Field(0.05, gt=0, le=1, description="ATR/price above this is too wild")
    stop_pct: float = Field(0.02, ge=0.0, le=0.5)
    atr_multiple: float = Field(1.5, ge=0.0, le=10.0)
    reward_risk: float = Field(3.0, gt=0.0, le=20.0)


class _Inputs(NamedTuple):
    """The indicator values the vote reads at one bar."""

    close: float
    rsi: float
    macd: float
    macd_signal: float
    bb_upper: float
    bb_lower: float
    adx: float
    plus_di: float
    minus_di: float
    stoch_k: float
    atr: float


@register
class MultiIndicatorVote(Strategy[MultiIndicatorParams]):
    name = "multi_indicator"
    title = "Multi-indicator score"
    description = (
        "Weighted vote of RSI (25%), MACD (25%), Bollinger (20%), ADX (15%), stochastic (10%) "
        "and ATR (5%); acts on the bar the confidence first reaches 60%. Stop 2% or 1.5 ATR "
        "(the wider), target 3x risk."
    )
    params_model = MultiIndicatorParams

    @property
    def warmup(self) -> int:
        p = self.params
        return max(
            3 * 26 + 9,
            5 * p.rsi_period + 1,
            6 * p.adx_period,
            p.bb_period + 1,
            p.stoch_k + 6,
            p.atr_period + 2,
        )

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        p = self.params
        h, lo, c = window.high, window.low, window.close
        rsi = ta.rsi(c, p.rsi_period)
        line, sig, _ = ta.macd(c)
        upper, _, lower = ta.bollinger(c, p.bb_period, p.bb_nbdev)
        plus_di, minus_di, adx = ta.dmi(h, lo, c, p.adx_period)
        k, _ = ta.stochastic(h, lo, c, p.stoch_k)
        atr = ta.atr(h, lo, c, p.atr_period)
        columns: tuple[FloatArray, ...] = (
            c,
            rsi,
            line,
            sig,
            upper,
            lower,
            adx,
            plus_di,
            minus_di,
            k,
            atr,
        )
        now = self.vote(_Inputs(*(float(col[-1]) for col in columns)))
        before = self.vote(_Inputs(*(float(col[-2]) for col in columns)))
        action, confidence = now
        if action is None or confidence < p.min_confidence:
            return []
        if before[0] is action and before[1] >= p.min_confidence:
            return []  # already acted on this vote
        price = float(c[-1])
        stop, target = stop_and_target(action, price, float(atr[-1]), p)
        return [Signal(action, confidence, stop, target, f"weighted vote {confidence:.0%}")]

    def vote(self, x: _Inputs) -> tuple[SignalAction | None, float]:
        """Direction and confidence (0..1) of the vote at one bar."""
        p = self.params
        bull = bear = 0.0
        for weight, direction in (
            (p.w_rsi, _zone(x.rsi, p.oversold, p.overbought)),
            (p.w_macd, _sign(x.macd - x.macd_signal)),
            (p.w_bollinger, 1 if x.close < x.bb_lower else -1 if x.close > x.bb_upper else 0),
            (p.w_stochastic, _zone(x.stoch_k, p.stoch_oversold, p.stoch_overbought)),
        ):
            if direction > 0:
                bull += weight
            elif direction < 0:
                bear += weight
        if bull == bear:
            return None, 0.0
        action = SignalAction.BUY if bull > bear else SignalAction.SELL
        score = max(bull, bear)
        trend = _sign(x.plus_di - x.minus_di)
        if x.adx > p.adx_threshold and trend == (1 if action is SignalAction.BUY else -1):
            score += p.w_adx
        if x.close > 0 and 0 < x.atr <= p.max_atr_pct * x.close:
            score += p.w_atr
        total = p.w_rsi + p.w_macd + p.w_bollinger + p.w_adx + p.w_stochastic + p.w_atr
        # Rounded so 0.25 + 0.20 + 0.10 + 0.05 meets a 0.6 bar despite binary floats.
        return action, (round(min(1.0, score / total), 9) if total > 0 else 0.0)


def _zone(value: float, low: float, high: float) -> int:
    """+1 below ``low`` (oversold), -1 above ``high`` (overbought), else 0 (NaN is 0)."""
    return 1 if value < low else -1 if value > high else 0


def _sign(x: float) -> int:
    return 1 if x > 0 else -1 if x < 0 else 0
