"""The dashboard preferences of the signed-in user (watchlist, selected symbol, theme,
layout)."""

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
Density = Literal["comfortable", "compact"]
# The trade screen's panels a trader may hide (the chart and the ticket always show).
Panel = Literal["watchlist", "summary", "positions", "orders"]


class Layout(RequestModel):
    """How the trade screen is laid out."""

    density: Density = Field("comfortable", description="compact: tighter rows and padding")
    hidden_panels: list[Panel] = Field(
        default_factory=list, max_length=4, description="panels of the trade screen not shown"
    )

    @field_validator("hidden_panels")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class LayoutPublic(PublicModel):
    density: Density = "comfortable"
    hidden_panels: list[Panel] = Field(default_factory=list)


class PreferencesUpdate(RequestModel):
    """The whole set: what is left out takes its default."""

    watchlist: list[WatchSymbol] = Field(
        default_factory=lambda: list(DEFAULT_WATCHLIST), max_length=MAX_WATCHLIST
    )
    symbol: WatchSymbol | None = Field(None, description="the symbol the trade screen shows")
    theme: Theme = Field("system", description="system follows the browser's setting")
    layout: Layout = Field(default_factory=Layout)

    @field_validator("watchlist")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class PreferencesPublic(PublicModel):
    watchlist: list[str]
    symbol: str | None
    theme: Theme
    layout: LayoutPublic = Field(default_factory=LayoutPublic)
    updated_at: datetime | None = Field(None, description="null until first saved")
