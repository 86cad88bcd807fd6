"""Small helpers the built-in strategies share: crosses, stops and targets, risk parameters."""

from __future__ import annotations

import math

from pydantic import Field

from shared.contracts import SignalAction
from strategy_workers.indicators import FloatArray
from strategy_workers.strategies.base import StrategyParams


class RiskParams(StrategyParams):
    """Stop and target settings every built-in strategy shares (each may change the defaults).

    Stop at the wider of ``stop_pct`` x price and ``atr_multiple`` x ATR;
    target at ``reward_risk`` x that risk.
    """

    atr_period: int = Field(14, ge=2, le=100, description="ATR period for the stop distance")
    stop_pct: float = Field(
        0.02, ge=0.0, le=0.5, description="minimum stop distance, fraction of price"
    )
    atr_multiple: float = Field(2.0, ge=0.0, le=10.0, description="stop distance in ATRs")
    reward_risk: float = Field(
        2.0, gt=0.0, le=20.0, description="target distance in multiples of the risk"
    )


def crossed_above(a: FloatArray, b: FloatArray) -> bool:
    """``a`` closed above ``b`` on the last bar after being at or below it on the bar before."""
    a1, a0, b1, b0 = a[-2], a[-1], b[-2], b[-1]
    return bool(_finite(a1, a0, b1, b0) and a1 <= b1 and a0 > b0)


def crossed_below(a: FloatArray, b: FloatArray) -> bool:
    """Mirror of :func:`crossed_above`."""
    a1, a0, b1, b0 = a[-2], a[-1], b[-2], b[-1]
    return bool(_finite(a1, a0, b1, b0) and a1 >= b1 and a0 < b0)


def crossed_above_level(a: FloatArray, level: float) -> bool:
    a1, a0 = a[-2], a[-1]
    return bool(_finite(a1, a0) and a1 <= level < a0)


def crossed_below_level(a: FloatArray, level: float) -> bool:
    a1, a0 = a[-2], a[-1]
    return bool(_finite(a1, a0) and a1 >= level > a0)


def stop_and_target(
    action: SignalAction, price: float, atr: float, params: RiskParams
) -> tuple[float | None, float | None]:
    """Stop at the wider of the percentage and ATR distances; target at ``reward_risk`` x risk."""
    atr_distance = atr * params.atr_multiple if math.isfinite(atr) else 0.0
    distance = max(price * params.stop_pct, atr_distance)
    return stop_target_from_distance(action, price, distance, params.reward_risk)


def stop_target_from_distance(
    action: SignalAction, price: float, distance: float, reward_risk: float
) -> tuple[float | None, float | None]:
    """Stop ``distance`` away against the trade, target ``reward_risk`` x that in its favour."""
    if not (math.isfinite(distance) and distance > 0) or action is SignalAction.EXIT:
        return None, None
    if action is SignalAction.BUY:
        if distance >= price:
            return None, None
        return price - distance, price + reward_risk * distance
    return price + distance, price - reward_risk * distance


def clamp01(x: float) -> float:
    """``x`` limited to 0..1 (NaN becomes 0)."""
    if not math.isfinite(x):
        return 0.0
    return min(1.0, max(0.0, x))


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)
