"""Strategy catalog, subscription and signal resources."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator

from api_gateway.schemas.common import Parsed, PublicModel, RequestModel
from shared.contracts import SubscriptionStatus, Timeframe

MAX_ID = 2**63 - 1  # BIGINT: a larger id can name nothing
MAX_SYMBOLS = 100
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # no control characters (PostgreSQL refuses NUL in text)
Mode = Literal["paper", "live"]


class StrategyPublic(PublicModel):
    name: str
    title: str = Field(description="human label of the strategy")
    description: str
    timeframes: list[str]
    warmup: int = Field(description="bars the strategy reads with its default parameters")
    defaults: dict[str, Any]
    params_schema: dict[str, Any] = Field(description="JSON Schema of the parameters")


class StrategyCatalog(PublicModel):
    items: list[StrategyPublic]
    sizing_schemas: dict[str, dict[str, Any]] = Field(
        description="JSON Schema of each sizing method's parameters"
    )


Symbols = list[str]


def _symbols(value: list[str] | None) -> list[str] | None:
    """Upper-case, without duplicates, order kept."""
    if value is None:
        return None
    return list(dict.fromkeys(s.strip().upper() for s in value))


class SubscriptionCreate(RequestModel):
    name: str = Field("", max_length=100, pattern=PRINTABLE)
    strategy: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict, description="see the strategy's schema")
    symbols: list[str] = Field(min_length=1, max_length=MAX_SYMBOLS)
    timeframe: Parsed[Timeframe]
    broker_account_id: int = Field(ge=1, le=MAX_ID)
    sizing_method: str = Field("fixed_fractional", min_length=1, max_length=32)
    sizing_params: dict[str, Any] = Field(default_factory=dict)
    capital_allocation: Parsed[Decimal] = Field(gt=0, le=Decimal("1e12"), decimal_places=2)
    mode: Mode = "paper"

    _norm = field_validator("symbols")(_symbols)


class SubscriptionUpdate(RequestModel):
    """Any subset of the settings; the result is validated as a whole, like a new subscription."""

    name: str | None = Field(None, max_length=100, pattern=PRINTABLE)
    strategy: str | None = Field(None, min_length=1, max_length=64)
    params: dict[str, Any] | None = None
    symbols: list[str] | None = Field(None, min_length=1, max_length=MAX_SYMBOLS)
    timeframe: Parsed[Timeframe] | None = None
    broker_account_id: int | None = Field(None, ge=1, le=MAX_ID)
    sizing_method: str | None = Field(None, min_length=1, max_length=32)
    sizing_params: dict[str, Any] | None = None
    capital_allocation: Parsed[Decimal] | None = Field(
        None, gt=0, le=Decimal("1e12"), decimal_places=2
    )
    mode: Mode | None = None

    _norm = field_validator("symbols")(_symbols)


class WarmupPublic(PublicModel):
    """Closed candles the strategy has on the subscription's timeframe (its least-served
    symbol), against what it reads before it can signal."""

    bars: int
    needed: int
    ready: bool
    status: str = Field(description="'ready' or 'warming up (k of n bars)'")


class SubscriptionPublic(PublicModel):
    id: int
    name: str
    strategy: str
    params: dict[str, Any]
    symbols: list[str]
    timeframe: str
    broker_account_id: int
    sizing_method: str
    sizing_params: dict[str, Any]
    capital_allocation: Decimal
    mode: str
    status: SubscriptionStatus
    created_at: datetime
    updated_at: datetime
    warmup: WarmupPublic | None = Field(
        None,
        description="history the strategy has; null when its parameters no longer load or "
        "the tick store does not answer",
    )


class SignalPublic(PublicModel):
    id: int
    signal_id: str
    subscription_id: int
    strategy: str
    symbol: str
    timeframe: str
    candle_end: datetime
    action: str
    confidence: float
    price: float
    stop: float | None
    target: float | None
    reason: str
    client_order_id: str | None
    created_at: datetime
