"""Backtest runs: what a trader submits and what they read back (docs/backtesting.md)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from analytics_service.api import BACKTEST_MAX_SYMBOLS
from api_gateway.schemas.common import IsoDatetime, Parsed, PublicModel, RequestModel
from shared.contracts import Product, Timeframe

MAX_GRID_VALUES = 50
SYMBOL_PATTERN = r"^[A-Za-z0-9._&-]+$"

Symbol = Annotated[str, Field(min_length=1, max_length=32, pattern=SYMBOL_PATTERN)]


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


class WalkForwardIn(RequestModel):
    folds: int = Field(1, ge=1, le=20, description="out-of-sample windows")
    out_of_sample: float = Field(
        0.25, gt=0, le=0.9, description="share of the bars traded out of sample"
    )
    anchored: bool = Field(False, description="in-sample windows start at the first bar")


Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class BacktestCreate(RequestModel):
    strategy: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict, max_length=50)
    symbol: Symbol | None = Field(None, description="the instrument (or symbols)")
    symbols: list[Symbol] | None = Field(
        None,
        min_length=1,
        max_length=BACKTEST_MAX_SYMBOLS,
        description="several instruments: one account each with the capital, one report",
    )
    timeframe: Parsed[Timeframe]
    start: IsoDatetime | None = Field(None, description="with end: the store's candles")
    end: IsoDatetime | None = None
    dataset_id: Id | None = Field(None, description="uploaded candles instead of a range")
    dataset_ids: list[Id] | None = Field(
        None,
        min_length=1,
        max_length=BACKTEST_MAX_SYMBOLS,
        description="uploaded candles of several symbols, one dataset per symbol in the order "
        "of symbols",
    )
    intrabar_dataset_id: Id | None = Field(
        None, description="uploaded finer candles replayed inside bars (with stops)"
    )
    settings: BacktestSettingsIn = Field(default_factory=BacktestSettingsIn)
    sweep: SweepIn | None = None
    walk_forward: WalkForwardIn | None = Field(
        None, description="out-of-sample windows stitched into one report"
    )
    check_lookahead: bool = Field(
        False,
        description="evaluate every signal again on the data cut at its bar (each fold's, in "
        "a walk-forward run); the result's lookahead lists the signals that changed",
    )

    @model_validator(mode="after")
    def _symbol_or_symbols(self) -> BacktestCreate:
        if (self.symbol is None) == (self.symbols is None):
            raise ValueError(
                "give symbol (one instrument) or symbols (a list of them), exactly one of the two"
            )
        return self

    @property
    def all_symbols(self) -> list[str]:
        """The run's instruments, whichever field named them."""
        if self.symbols is not None:
            return self.symbols
        assert self.symbol is not None  # one of the two, by validation
        return [self.symbol]

    @model_validator(mode="after")
    def _one_source(self) -> BacktestCreate:
        has_range = self.start is not None or self.end is not None
        if self.dataset_id is not None and self.dataset_ids is not None:
            raise ValueError("give dataset_id (one symbol) or dataset_ids, not both")
        uploaded = self.dataset_id is not None or self.dataset_ids is not None
        if uploaded and has_range:
            which = "dataset_id" if self.dataset_id is not None else "dataset_ids"
            raise ValueError(f"give start and end, or {which}, not both")
        if not uploaded and (self.start is None or self.end is None):
            raise ValueError(
                "give start and end, or the dataset_id (dataset_ids) of uploaded candles"
            )
        if self.intrabar_dataset_id is not None and self.dataset_id is None:
            raise ValueError("intrabar_dataset_id goes with dataset_id (one symbol)")
        return self


class DatasetQuery(BaseModel):
    """What an uploaded file holds; the body is the file itself."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    symbol: str = Field(min_length=1, max_length=32, pattern=SYMBOL_PATTERN)
    timeframe: Timeframe
    format: Literal["csv", "parquet"] = Field("csv", description="csv or parquet")
    name: str = Field("", max_length=128, description="a label (default: symbol and timeframe)")


class BacktestDatasetPublic(PublicModel):
    id: int
    name: str
    symbol: str
    timeframe: str
    format: str
    size_bytes: int
    bars: int
    gaps: int = Field(description="steps longer than the timeframe inside a UTC day")
    first_bar: datetime
    last_bar: datetime
    data_hash: str = Field(description="SHA-256 of the bars, as on a report's run card")
    created_at: datetime


class BacktestRunPublic(PublicModel):
    id: int
    kind: str = Field(description="backtest, sweep or walk_forward")
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

    @computed_field  # type: ignore[prop-decorator]
    @property
    def symbols(self) -> list[str]:
        """Every instrument of the run (``symbol`` is the first)."""
        return list(self.request.get("symbols") or [self.symbol])


class BacktestRunDetail(BacktestRunPublic):
    result: dict[str, Any] | None = Field(
        description="the report (conventions, run_card, trades, orders, equity, metrics) or "
        "the ranked sweep points, once done"
    )
