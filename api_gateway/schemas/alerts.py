"""Alerts, notification channels and price alerts: what a trader sends and reads back
(docs/alerts.md, section REST)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, JsonValue, field_validator, model_validator

from api_gateway.schemas.common import MoneyOut, Parsed, PublicModel, RequestModel
from shared.alerts import AlertKind, ChannelKind, PriceCondition, PriceRepeat, Severity

MAX_CONFIG_FIELDS = 20
MAX_PRICE = Decimal(10) ** 12

ChannelName = Annotated[str, Field(min_length=1, max_length=100)]
# Values a channel's fields take (strings, port numbers, chat ids, recipient lists); each
# channel's own model checks its fields (docs/alerts-channels.md) and answers 422 per field.
ConfigValue = Annotated[JsonValue, Field(description="a channel field")]
Config = Annotated[
    dict[Annotated[str, Field(max_length=64)], ConfigValue],
    Field(max_length=MAX_CONFIG_FIELDS),
]
Kinds = Annotated[list[Parsed[AlertKind]], Field(max_length=len(AlertKind))]
Severities = Annotated[
    list[Parsed[Severity]],
    Field(
        min_length=1,
        max_length=len(Severity),
        description="the severities sent through this channel (each once; at least one)",
    ),
]
Price = Annotated[
    Parsed[Decimal], Field(gt=0, le=MAX_PRICE, max_digits=20, decimal_places=8, allow_inf_nan=False)
]
Percent = Annotated[Parsed[Decimal], Field(gt=0, le=100, max_digits=12, decimal_places=6)]
WindowMinutes = Annotated[int, Field(ge=1, le=1440)]
Symbol = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._&-]+$")]
Note = Annotated[str, Field(max_length=200)]


def _once_each(kinds: list[AlertKind] | None) -> list[AlertKind] | None:
    return None if kinds is None else list(dict.fromkeys(kinds))


def _no_repeats(severities: list[Severity] | None) -> list[Severity] | None:
    if severities is not None and len(set(severities)) != len(severities):
        raise ValueError("each severity at most once")
    return severities


# -- history ---------------------------------------------------------------------------


class DeliveryPublic(PublicModel):
    channel_id: int
    channel_kind: str
    channel_name: str
    status: str = Field(description="pending, sent or failed")
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None


class AlertPublic(PublicModel):
    id: uuid.UUID = Field(description="the alert's id (the alert_id of its payloads)")
    kind: str
    severity: str
    title: str
    body: str
    data: dict[str, Any]
    created_at: datetime
    read: bool
    read_at: datetime | None
    deliveries: list[DeliveryPublic]


class AlertStatsPublic(PublicModel):
    total: int
    unread: int
    by_kind: dict[str, int]
    by_severity: dict[str, int]
    unread_by_severity: dict[str, int]


class MarkedPublic(PublicModel):
    marked: int = Field(description="how many alerts were unread")


# -- notification channels -------------------------------------------------------------


class ChannelCreate(RequestModel):
    kind: Parsed[ChannelKind]
    name: ChannelName | None = None
    enabled: bool = True
    severities: Severities = Field(default_factory=lambda: list(Severity))
    kinds: Kinds = Field(default_factory=list, description="alert kinds; empty: every kind")
    config: Config = Field(default_factory=dict)

    _kinds = field_validator("kinds")(_once_each)
    _severities = field_validator("severities")(_no_repeats)


class ChannelUpdate(RequestModel):
    """What is left out keeps its value; secret config fields left out keep theirs."""

    name: ChannelName | None = None
    enabled: bool | None = None
    severities: Severities | None = None
    kinds: Kinds | None = None
    config: Config | None = None

    _kinds = field_validator("kinds")(_once_each)
    _severities = field_validator("severities")(_no_repeats)


class ChannelPublic(PublicModel):
    id: int
    kind: str
    name: str
    enabled: bool
    severities: list[str] = Field(description="the severities it sends, in rank order")
    kinds: list[str]
    config: dict[str, Any] = Field(description="the public fields only")
    secrets_set: list[str] = Field(description="secret fields that hold a value (names only)")
    revealed: dict[str, str] = Field(
        description="secrets generated on this save, shown once (e.g. a webhook secret)"
    )
    created_at: datetime
    updated_at: datetime


class ChannelList(PublicModel):
    items: list[ChannelPublic]
    websocket_default: bool = Field(
        description="true while no websocket channel is saved: the WebSocket gets every alert"
    )


class ChannelTestPublic(PublicModel):
    alert_id: uuid.UUID
    channel_id: int
    status: str = Field(description="sent or failed")
    error: str | None


# -- price alerts ----------------------------------------------------------------------


class PriceAlertCreate(RequestModel):
    symbol: Symbol
    condition: Parsed[PriceCondition]
    price: Price | None = None
    percent: Percent | None = None
    window_minutes: WindowMinutes | None = None
    repeat: Parsed[PriceRepeat] = PriceRepeat.ONCE
    active: bool = True
    note: Note = ""

    @model_validator(mode="after")
    def _terms(self) -> PriceAlertCreate:
        check_terms(self.condition, self.price, self.percent, self.window_minutes)
        return self


class PriceAlertUpdate(RequestModel):
    symbol: Symbol | None = None
    condition: Parsed[PriceCondition] | None = None
    price: Price | None = None
    percent: Percent | None = None
    window_minutes: WindowMinutes | None = None
    repeat: Parsed[PriceRepeat] | None = None
    active: bool | None = None
    note: Note | None = None

    @model_validator(mode="after")
    def _terms(self) -> PriceAlertUpdate:
        if self.condition is not None:
            check_terms(self.condition, self.price, self.percent, self.window_minutes, True)
        elif self.price is not None and (
            self.percent is not None or self.window_minutes is not None
        ):
            raise ValueError("price is for a crossing, percent and window_minutes for moves_pct")
        return self


def check_terms(
    condition: PriceCondition,
    price: Decimal | None,
    percent: Decimal | None,
    window_minutes: int | None,
    partial: bool = False,
) -> None:
    """A crossing takes a price only; a move takes a percent and a window only."""
    if condition is PriceCondition.MOVES_PCT:
        if price is not None:
            raise ValueError("moves_pct takes percent and window_minutes, not price")
        if not partial and (percent is None or window_minutes is None):
            raise ValueError("moves_pct needs percent and window_minutes")
        return
    if percent is not None or window_minutes is not None:
        raise ValueError(f"{condition} takes a price, not percent or window_minutes")
    if not partial and price is None:
        raise ValueError(f"{condition} needs a price")


class PriceAlertPublic(PublicModel):
    id: int
    symbol: str
    condition: str
    price: MoneyOut | None
    percent: MoneyOut | None
    window_minutes: int | None
    repeat: str
    active: bool
    note: str
    trigger_count: int
    last_triggered_at: datetime | None
    last_triggered_price: MoneyOut | None
    created_at: datetime
    updated_at: datetime
