"""Broker account resources: credentials go in, only a masked hint comes out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal, get_args

from pydantic import Field, field_validator

from api_gateway.schemas.common import MoneyOut, Parsed, PublicModel, RequestModel

BrokerKind = Literal["paper"]
PaperCurrency = Literal["INR", "USDT", "USD"]
PAPER_CURRENCIES: tuple[str, ...] = get_args(PaperCurrency)


class BrokerAccountCreate(RequestModel):
    broker: BrokerKind = "paper"
    label: str = Field(min_length=1, max_length=100)
    credentials: dict[str, str] | None = Field(
        None, description="Broker API credentials; stored encrypted, never returned."
    )
    starting_capital: Parsed[Decimal] | None = Field(
        None, gt=0, le=Decimal("1e12"), decimal_places=2
    )
    currency: PaperCurrency = Field(
        "INR", description="The account's one currency; it trades instruments quoted in it only."
    )

    @field_validator("currency", mode="before")
    @classmethod
    def _known_currency(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().upper()
            if value not in PAPER_CURRENCIES:
                allowed = ", ".join(PAPER_CURRENCIES)
                raise ValueError(f"paper accounts can be opened in {allowed} only, not {value!r}")
        return value


class BrokerAccountUpdate(RequestModel):
    label: str | None = Field(None, min_length=1, max_length=100)
    credentials: dict[str, str] | None = None
    is_active: bool | None = None


class BrokerAccountPublic(PublicModel):
    id: int
    broker: str
    label: str
    credentials_hint: str | None
    starting_capital: MoneyOut
    currency: str
    is_active: bool
    created_at: datetime
    closed_at: datetime | None = Field(
        None, description="When the account was closed; a closed account is never reopened."
    )
