"""Broker account resources: credentials go in, only a masked hint comes out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from api_gateway.schemas.common import MoneyOut, PublicModel, RequestModel

BrokerKind = Literal["paper"]


class BrokerAccountCreate(RequestModel):
    broker: BrokerKind = "paper"
    label: str = Field(min_length=1, max_length=100)
    credentials: dict[str, str] | None = Field(
        None, description="Broker API credentials; stored encrypted, never returned."
    )
    starting_capital: Decimal | None = Field(None, gt=0, le=Decimal("1e12"), decimal_places=2)
    currency: Literal["INR", "USD", "USDT"] = "INR"


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
