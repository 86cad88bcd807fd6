"""Backtest runs: what a trader submits and what they read back (docs/backtesting.md)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from api_gateway.schemas.common import IsoDatetime, Parsed, PublicModel, RequestModel
from shared.contracts import Product, Timeframe

MAX_GRID_VALUES = 50


class BacktestSettingsIn(RequestModel):
    """The conventions of the run; every field has the documented default."""

    capital: Parsed[Decimal] = Field(Decimal(100_000), gt=0, le=Decimal(10) ** 12)
    sizing_method: str = Field("fixed_fractional", max_length=32)
    sizing_params: dict[str, Any] = Field(default_factory=dict, max_length=20)
    fill: Literal["next_open", "close"] = "next_open"
    slippage_bps: Parsed[Decimal] = Field(Decimal(0), ge=0, le=1000)
    slippage_ticks: int = Field(0, ge=0, le=1000)
    charges: bool = True
    direction: Literal["long_short", "long_only"] = "long_short"
    stops: bool = False
    product: Parsed[Product] = Product.MIS
    risk: Literal["mine", "off"] = Field(
        "off", description="mine: the pre-trade risk chain with my risk limits"
    )


class SweepIn(RequestModel):
    grid: dict[str, list[Any]] = Field(
        min_length=1, max_length=5, description="parameter -> values to try"
    )
    rank_by: str = Field("sharpe", max_length=32)


class BacktestCreate(RequestModel):
    strategy: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict, max_length=50)
    symbol: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._&-]+$")
    timeframe: Parsed[Timeframe]
    start: IsoDatetime
    end: IsoDatetime
    settings: BacktestSettingsIn = Field(default_factory=BacktestSettingsIn)
    sweep: SweepIn | None = None


class BacktestRunPublic(PublicModel):
    id: int
    kind: str = Field(description="backtest or sweep")
    status: str = Field(description="queued, running, done, failed or cancelled")
    strategy: str
    symbol: str
    timeframe: str
    progress: float
    bars: int | None
    error: str | None
    request: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BacktestRunDetail(BacktestRunPublic):
    result: dict[str, Any] | None = Field(
        description="the report (conventions, run_card, trades, orders, equity, metrics) or "
        "the ranked sweep points, once done"
    )
