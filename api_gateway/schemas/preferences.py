"""The dashboard preferences of the signed-in user (watchlist, selected symbol, theme)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator

from api_gateway.schemas.common import PublicModel, RequestModel

MAX_WATCHLIST = 50
Theme = Literal["system", "light", "dark"]
WatchSymbol = Annotated[
    str, Field(min_length=1, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9&_.\-]*$")
]
DEFAULT_WATCHLIST = ["RELIANCE", "TCS", "INFY", "HDFCBANK", "BTCUSDT"]


class PreferencesUpdate(RequestModel):
    """The whole set: what is left out takes its default."""

    watchlist: list[WatchSymbol] = Field(
        default_factory=lambda: list(DEFAULT_WATCHLIST), max_length=MAX_WATCHLIST
    )
    symbol: WatchSymbol | None = Field(None, description="the symbol the trade screen shows")
    theme: Theme = Field("system", description="system follows the browser's setting")

    @field_validator("watchlist")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class PreferencesPublic(PublicModel):
    watchlist: list[str]
    symbol: str | None
    theme: Theme
    updated_at: datetime | None = Field(None, description="null until first saved")
