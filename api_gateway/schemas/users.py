"""User resources."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api_gateway.schemas.common import Parsed, PublicModel, RequestModel
from shared.models import Role


class UserPublic(PublicModel):
    id: int
    email: str
    full_name: str
    role: str
    is_active: bool
    totp_enabled: bool
    created_at: datetime


class UserAdminView(UserPublic):
    last_login_at: datetime | None
    locked_until: datetime | None


class UserUpdate(RequestModel):
    full_name: str = Field(max_length=200)


class RoleUpdate(RequestModel):
    role: Parsed[Role]


class AuditEntryPublic(PublicModel):
    id: int
    ts: datetime
    actor_id: int | None
    action: str
    target_type: str | None
    target_id: str | None
    ip_address: str | None
    details: dict[str, object]


class SessionPublic(PublicModel):
    """A login session (its refresh tokens rotate within it)."""

    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip_address: str | None
    user_agent: str | None
    current: bool = Field(False, description="the session of this request")
