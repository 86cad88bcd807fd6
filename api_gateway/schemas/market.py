"""Market data resources."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from api_gateway.schemas.common import PublicModel


class InstrumentPublic(PublicModel):
    symbol: str
    name: str
    exchange: str
    asset_class: str
    currency: str
    sector: str
    tick_size: Decimal
    lot_size: Decimal
    freeze_qty: int | None


class CandlePublic(PublicModel):
    start: datetime
    end: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int


class CandlesOut(PublicModel):
    symbol: str
    timeframe: str
    candles: list[CandlePublic]


class QuotePublic(PublicModel):
    symbol: str
    price: float | None
    ts: datetime | None
