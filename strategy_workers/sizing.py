"""Position sizing: how many units a signal buys or sells, in Decimal, rounded down to the lot.

Four methods: fixed fractional risk, a fixed quantity, fractional Kelly, and
volatility (ATR) adjusted. Each returns a :class:`SizeResult`; a zero quantity always
comes with the reason. Parameter models are validated once per subscription
(:func:`build_sizer`), so the per-signal path is plain Decimal arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.contracts import Side
from shared.errors import Unprocessable
from strategy_workers.titles import field_title

ZERO = Decimal(0)
ONE = Decimal(1)


class SizingMethod(StrEnum):
    FIXED_FRACTIONAL = "fixed_fractional"
    FIXED_QUANTITY = "fixed_quantity"
    KELLY = "kelly"
    VOLATILITY = "volatility"


@dataclass(frozen=True, slots=True)
class SizeResult:
    """Units to trade (a whole number of lots, possibly zero) and why."""

    quantity: Decimal
    reason: str

    @property
    def ok(self) -> bool:
        return self.quantity > 0


class InvalidSizingParams(Unprocessable):
    code = "invalid_sizing_params"


def round_to_lot(quantity: Decimal, lot_size: Decimal | int = 1) -> Decimal:
    """``quantity`` rounded down to whole lots (never up: never more risk than asked)."""
    lot = Decimal(lot_size)
    if lot <= 0:
        raise ValueError(f"lot size must be positive, got {lot_size}")
    if quantity <= 0:
        return ZERO
    return (quantity / lot).to_integral_value(rounding=ROUND_FLOOR) * lot


def stop_problem(side: Side, entry: Decimal, stop: Decimal | None) -> str | None:
    """Why ``stop`` cannot bound the risk of a ``side`` entry at ``entry``, or None if it can."""
    if stop is None:
        return "invalid stop: none given"
    if stop == entry:
        return "invalid stop: equals the entry price"
    if stop <= 0:
        return "invalid stop: not a positive price"
    if side is Side.BUY and stop > entry:
        return "invalid stop: above the entry of a buy"
    if side is Side.SELL and stop < entry:
        return "invalid stop: below the entry of a sell"
    return None


def fixed_fractional(
    equity: Decimal,
    entry: Decimal,
    stop: Decimal | None,
    side: Side,
    *,
    risk_fraction: Decimal = Decimal("0.01"),
    lot_size: Decimal | int = 1,
    max_leverage: Decimal = ONE,
) -> SizeResult:
    """Risk a fraction of equity between entry and stop: equity x risk / |entry - stop|."""
    problem = _inputs_problem(equity, entry) or stop_problem(side, entry, stop)
    if problem is not None:
        return SizeResult(ZERO, problem)
    assert stop is not None
    return _finish(
        equity * risk_fraction / abs(entry - stop), equity, entry, lot_size, max_leverage
    )


def fixed_quantity(quantity: Decimal, lot_size: Decimal | int = 1) -> SizeResult:
    """The same ``quantity`` on every entry (rounded down to the lot), whatever the equity."""
    rounded = round_to_lot(quantity, lot_size)
    if rounded <= 0:
        return SizeResult(ZERO, f"below one lot of {lot_size}")
    return SizeResult(rounded, "sized")


def kelly_fraction(win_rate: Decimal, payoff_ratio: Decimal) -> Decimal:
    """Full Kelly fraction W - (1 - W) / R (negative when the edge is negative)."""
    return win_rate - (ONE - win_rate) / payoff_ratio


def fractional_kelly(
    equity: Decimal,
    entry: Decimal,
    stop: Decimal | None,
    side: Side,
    *,
    win_rate: Decimal,
    payoff_ratio: Decimal,
    fraction: Decimal = Decimal("0.5"),
    max_risk_fraction: Decimal = Decimal("0.05"),
    lot_size: Decimal | int = 1,
    max_leverage: Decimal = ONE,
) -> SizeResult:
    """Risk ``fraction`` x Kelly of equity (at most ``max_risk_fraction``) down to the stop."""
    kelly = kelly_fraction(win_rate, payoff_ratio)
    if kelly <= 0:
        return SizeResult(ZERO, f"no edge: Kelly fraction {kelly:.4f} is not positive")
    return fixed_fractional(
        equity,
        entry,
        stop,
        side,
        risk_fraction=min(kelly * fraction, max_risk_fraction),
        lot_size=lot_size,
        max_leverage=max_leverage,
    )


def volatility_adjusted(
    equity: Decimal,
    entry: Decimal,
    atr: Decimal | None,
    *,
    risk_fraction: Decimal = Decimal("0.01"),
    atr_multiple: Decimal = Decimal(2),
    lot_size: Decimal | int = 1,
    max_leverage: Decimal = ONE,
) -> SizeResult:
    """Risk a fraction of equity over ``atr_multiple`` ATRs: calmer markets get larger size."""
    problem = _inputs_problem(equity, entry)
    if problem is None and (atr is None or not atr > 0):
        problem = "no volatility: ATR is missing or not positive"
    if problem is not None:
        return SizeResult(ZERO, problem)
    assert atr is not None
    risk_per_unit = atr * atr_multiple
    if risk_per_unit <= 0:
        return SizeResult(ZERO, "no volatility: ATR multiple is zero")
    return _finish(equity * risk_fraction / risk_per_unit, equity, entry, lot_size, max_leverage)


def _inputs_problem(equity: Decimal, entry: Decimal) -> str | None:
    if not equity > 0:
        return "no equity to risk"
    if not entry > 0:
        return "invalid entry price"
    return None


def _finish(
    raw: Decimal, equity: Decimal, entry: Decimal, lot_size: Decimal | int, max_leverage: Decimal
) -> SizeResult:
    cap = equity * max_leverage / entry
    capped = raw > cap
    quantity = round_to_lot(min(raw, cap), lot_size)
    if quantity <= 0:
        return SizeResult(ZERO, f"below one lot of {lot_size}")
    return SizeResult(quantity, "capped by capital" if capped else "sized")


# -- parameters stored with a subscription -------------------------------------------------


class _SizingParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, field_title_generator=field_title)

    max_leverage: Decimal = Field(ONE, gt=0, le=10, description="notional cap, multiples of equity")


class FixedFractionalParams(_SizingParams):
    risk_fraction: Decimal = Field(Decimal("0.01"), gt=0, le=Decimal("0.2"))


class FixedQuantityParams(_SizingParams):
    quantity: Decimal = Field(ONE, gt=0, le=Decimal(10) ** 9, description="units per entry")


class KellyParams(_SizingParams):
    win_rate: Decimal = Field(Decimal("0.5"), gt=0, lt=1, description="share of winning trades")
    payoff_ratio: Decimal = Field(
        Decimal("1.5"), gt=0, le=100, description="average win / average loss"
    )
    fraction: Decimal = Field(Decimal("0.5"), gt=0, le=1, description="share of full Kelly to use")
    max_risk_fraction: Decimal = Field(Decimal("0.05"), gt=0, le=Decimal("0.2"))


class VolatilityParams(_SizingParams):
    risk_fraction: Decimal = Field(Decimal("0.01"), gt=0, le=Decimal("0.2"))
    atr_period: int = Field(14, ge=2, le=100)
    atr_multiple: Decimal = Field(Decimal(2), gt=0, le=20)


_MODELS: dict[SizingMethod, type[_SizingParams]] = {
    SizingMethod.FIXED_FRACTIONAL: FixedFractionalParams,
    SizingMethod.FIXED_QUANTITY: FixedQuantityParams,
    SizingMethod.KELLY: KellyParams,
    SizingMethod.VOLATILITY: VolatilityParams,
}


@dataclass(frozen=True, slots=True)
class Sizer:
    """One subscription's sizing rule with validated parameters."""

    method: SizingMethod
    params: _SizingParams

    @property
    def atr_period(self) -> int | None:
        """The ATR period the rule needs from the market data, if any."""
        return self.params.atr_period if isinstance(self.params, VolatilityParams) else None

    def size(
        self,
        equity: Decimal,
        entry: Decimal,
        stop: Decimal | None,
        side: Side,
        *,
        lot_size: Decimal | int = 1,
        atr: Decimal | None = None,
    ) -> SizeResult:
        p = self.params
        if isinstance(p, FixedQuantityParams):
            return fixed_quantity(p.quantity, lot_size)
        if isinstance(p, FixedFractionalParams):
            return fixed_fractional(
                equity,
                entry,
                stop,
                side,
                risk_fraction=p.risk_fraction,
                lot_size=lot_size,
                max_leverage=p.max_leverage,
            )
        if isinstance(p, KellyParams):
            return fractional_kelly(
                equity,
                entry,
                stop,
                side,
                win_rate=p.win_rate,
                payoff_ratio=p.payoff_ratio,
                fraction=p.fraction,
                max_risk_fraction=p.max_risk_fraction,
                lot_size=lot_size,
                max_leverage=p.max_leverage,
            )
        assert isinstance(p, VolatilityParams)
        return volatility_adjusted(
            equity,
            entry,
            atr,
            risk_fraction=p.risk_fraction,
            atr_multiple=p.atr_multiple,
            lot_size=lot_size,
            max_leverage=p.max_leverage,
        )


def build_sizer(method: str, params: Mapping[str, Any] | None = None) -> Sizer:
    """Validate sizing settings once; :class:`InvalidSizingParams` names the wrong field."""
    try:
        chosen = SizingMethod(method)
    except ValueError:
        options = ", ".join(m.value for m in SizingMethod)
        message = f"unknown sizing method {method!r} (choose one of {options})"
        raise InvalidSizingParams(
            message, details=[{"field": "sizing_method", "message": message}]
        ) from None
    try:
        return Sizer(chosen, _MODELS[chosen].model_validate(dict(params or {})))
    except ValidationError as exc:
        details = [
            {"field": ".".join(["sizing_params", *(str(p) for p in e["loc"])]), "message": e["msg"]}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        raise InvalidSizingParams(
            f"invalid sizing parameters: {summary}", details=details
        ) from None


def sizing_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of each sizing method's parameters, for forms."""
    return {method.value: model.model_json_schema() for method, model in _MODELS.items()}
