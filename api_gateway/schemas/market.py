"""Market data resources."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import Field

from api_gateway.schemas.common import PublicModel
from shared.contracts import MarketReason


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
    """The latest price and the session's figures; prices are ``null`` only for an
    instrument that has never traded on the platform."""

    symbol: str
    exchange: str
    currency: str
    market_open: bool = Field(description="whether the instrument's exchange trades right now")
    price: float | None = Field(description="last traded price (the last close when closed)")
    ts: datetime | None = Field(description="time of that price")
    prev_close: float | None = Field(description="close of the session before the price's")
    change: float | None = Field(description="price - prev_close")
    change_pct: float | None = Field(description="change in percent of prev_close")
    open: float | None
    high: float | None
    low: float | None
    volume: float | None
    session_open: datetime | None = Field(description="the session the price belongs to")
    session_close: datetime | None


class MarketStatusPublic(PublicModel):
    """One exchange's state from its trading calendar; times are UTC."""

    exchange: str
    timezone: str = Field(description="the exchange's time zone (IANA name)")
    is_open: bool
    reason: MarketReason
    holiday: str | None = Field(description="the holiday's name when one closes the exchange")
    trading_day: date = Field(description="the exchange's local date")
    session_open: datetime | None = Field(description="today's session, null without one")
    session_close: datetime | None
    next_open: datetime | None = Field(description="null for a market that never closes")
    next_close: datetime | None
    message: str = Field(
        description="e.g. 'NSE is closed (weekend); it opens Mon 07 Dec 09:15 IST'"
    )
    ts: datetime = Field(description="the moment described")
