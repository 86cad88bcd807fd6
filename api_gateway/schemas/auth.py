"""Auth requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import EmailStr, Field, model_validator

from api_gateway.schemas.common import PublicModel, RequestModel
from api_gateway.services.recovery_codes import PATTERN as RECOVERY_CODE_PATTERN
from shared.security.passwords import MAX_LENGTH, MIN_LENGTH

TotpCode = Annotated[str, Field(pattern=r"^\d{6}$", description="a 6-digit TOTP code")]
RecoveryCode = Annotated[
    str,
    Field(
        pattern=RECOVERY_CODE_PATTERN,
        description="a recovery code (abcd-efgh-ijkl-mnop), accepted once, in place of a TOTP code",
    ),
]


class RegisterIn(RequestModel):
    email: EmailStr
    password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)
    full_name: str = Field("", max_length=200)


class LoginIn(RequestModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=MAX_LENGTH)
    totp_code: TotpCode | None = None
    recovery_code: RecoveryCode | None = None

    @model_validator(mode="after")
    def _one_factor(self) -> LoginIn:
        if self.totp_code is not None and self.recovery_code is not None:
            raise ValueError("send totp_code or recovery_code, not both")
        return self


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
    code: TotpCode


class TotpDisableIn(RequestModel):
    """The password and a TOTP code, or a recovery code in its place."""

    password: str = Field(min_length=1, max_length=MAX_LENGTH)
    code: TotpCode | None = None
    recovery_code: RecoveryCode | None = None

    @model_validator(mode="after")
    def _one_factor(self) -> TotpDisableIn:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("send a TOTP code (code) or a recovery code (recovery_code), one")
        return self


class RecoveryCodesRegenerate(RequestModel):
    """The password and a TOTP code (a recovery code does not make new ones)."""

    password: str = Field(min_length=1, max_length=MAX_LENGTH)
    code: TotpCode


class RecoveryCodesOut(PublicModel):
    """New recovery codes: shown this once; only their digests are kept."""

    recovery_codes: list[str]


class RecoveryCodesStatus(PublicModel):
    remaining: int = Field(description="unused codes of the current set")
    generated_at: datetime | None = Field(None, description="null when there is no set")
