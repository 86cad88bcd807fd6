"""Request/response building blocks shared by every resource."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Strict

from shared.contracts import Amount

T = TypeVar("T")

# Request bodies are strict: JSON ``true`` is no id, ``1`` no boolean, a number no string.
# Values JSON has no type for arrive in their JSON form, which strict validation of the
# decoded body would refuse: decimals as strings ("2501.35", preferred, exact) or numbers,
# enums as their string values. Such fields are ``Parsed[...]``: they take exactly those
# forms (a boolean is still no decimal; pydantic refuses it) and nothing looser.
Parsed = Annotated[T, Strict(False)]

_ISO_DATE = re.compile(r"\s*\d{4}-\d{2}-\d{2}")


def _iso_8601(value: object) -> object:
    # Lax datetime parsing reads a bare number ("0.5", "1700000000") as Unix time.
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("expected an ISO 8601 date and time with an offset, e.g. 2025-01-31T09:15Z")


# A moment in a query or body: ISO 8601 with an offset; numbers are refused.
IsoDatetime = Annotated[AwareDatetime, Strict(False), BeforeValidator(_iso_8601)]


# Money and prices in responses: exact decimal strings in plain notation (as in events).
MoneyOut = Amount


class RequestModel(BaseModel):
    """Base of request bodies: unknown fields are refused (no mass assignment), types are
    strict (see ``Parsed`` for decimals and enums)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class PublicModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class ErrorDetail(BaseModel):
    field: str | None = None
    message: str


class ErrorOut(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []
