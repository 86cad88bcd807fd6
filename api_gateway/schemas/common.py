"""Request/response building blocks shared by every resource."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from shared.contracts import Amount

T = TypeVar("T")


# Money and prices in responses: exact decimal strings in plain notation (as in events).
MoneyOut = Amount


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
