"""Auth requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field

from api_gateway.schemas.common import PublicModel, RequestModel
from shared.security.passwords import MAX_LENGTH, MIN_LENGTH


class RegisterIn(RequestModel):
    email: EmailStr
    password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)
    full_name: str = Field("", max_length=200)


class LoginIn(RequestModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=MAX_LENGTH)
    totp_code: str | None = Field(None, pattern=r"^\d{6}$")


class RefreshIn(RequestModel):
    refresh_token: str = Field(min_length=10, max_length=200)


class TokenOut(PublicModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_at: datetime


class PasswordChangeIn(RequestModel):
    current_password: str = Field(min_length=1, max_length=MAX_LENGTH)
    new_password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)


class TotpSetupOut(PublicModel):
    secret: str
    otpauth_uri: str


class TotpCodeIn(RequestModel):
    code: str = Field(pattern=r"^\d{6}$")


class TotpDisableIn(RequestModel):
    password: str = Field(min_length=1, max_length=MAX_LENGTH)
    code: str = Field(pattern=r"^\d{6}$")
