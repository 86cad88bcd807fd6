"""Request/response building blocks shared by every resource."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer

T = TypeVar("T")


def plain_decimal(value: Decimal) -> str:
    """Exact, in plain notation, without trailing zeros: ``Decimal("1E+5")`` -> ``"100000"``."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# Money and prices in responses: exact decimal strings in plain notation.
MoneyOut = Annotated[Decimal, PlainSerializer(plain_decimal, return_type=str, when_used="json")]


class RequestModel(BaseModel):
    """Base of request bodies: unknown fields are refused (no mass assignment)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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
