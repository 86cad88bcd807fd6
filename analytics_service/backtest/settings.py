"""What a backtest is asked to do: the strategy, its market, and the fill conventions."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from order_processor.domain.risk import RiskLimits
from shared.contracts import Product, Timeframe


class FillAt(StrEnum):
    """Where a market order decided on a bar's close fills."""

    NEXT_OPEN = "next_open"
    """At the next bar's open: the first price after the decision (the live paper broker's rule)."""
    CLOSE = "close"
    """At the signal bar's own close (optimistic: nobody trades at the price that decided)."""


class Direction(StrEnum):
    LONG_SHORT = "long_short"
    """As live: a signal against the position closes it; a signal from flat opens either way."""
    LONG_ONLY = "long_only"
    """A BUY opens a long, a SELL only closes it; no short is ever opened."""


class BacktestSettings(BaseModel):
    """Conventions of one run; every field is printed in the report's header."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    capital: Decimal = Field(Decimal(100_000), gt=0, le=Decimal(10) ** 12)
    sizing_method: str = "fixed_fractional"
    sizing_params: dict[str, Any] = Field(default_factory=dict)
    fill: FillAt = FillAt.NEXT_OPEN
    slippage_bps: Decimal = Field(Decimal(0), ge=0, le=1000)
    """Adverse slippage of market fills in basis points (the paper fill model's own setting)."""
    slippage_ticks: int = Field(0, ge=0, le=1000)
    """Further adverse slippage of market fills, in ticks of the instrument."""
    charges: bool = True
    direction: Direction = Direction.LONG_SHORT
    stops: bool = False
    """Close a position at its signal's stop or target when a bar touches them (intrabar rule:
    the stop first when a bar touches both; a gap through the stop fills at the open). Live
    trading does not place protective orders, so the default leaves them out."""
    product: Product = Product.MIS
    risk: RiskLimits | None = None
    """The pre-trade risk chain with these limits; None runs without it."""
    seed: int = 0
    """Recorded on the run card (the engine itself draws no random numbers)."""

    @model_validator(mode="after")
    def _sizing_is_valid(self) -> BacktestSettings:
        from strategy_workers.sizing import build_sizer

        build_sizer(self.sizing_method, self.sizing_params)
        return self


class BacktestRequest(BaseModel):
    """A strategy with parameters on one symbol and timeframe, under ``settings``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)
    symbol: str = Field(min_length=1, max_length=32)
    timeframe: Timeframe
    settings: BacktestSettings = Field(default_factory=BacktestSettings)
