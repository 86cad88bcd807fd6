"""Turning an access token into a live user, for every service that accepts tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Unauthorized
from shared.models import TokenFamily, User
from shared.security.jwt import JWTKeys

# Built once: it runs on every authenticated request.
_LIVE_SESSION = (
    select(User)
    .join(TokenFamily, TokenFamily.user_id == User.id)
    .where(
        User.id == bindparam("user_id"),
        TokenFamily.id == bindparam("session_id"),
        TokenFamily.revoked_at.is_(None),
        TokenFamily.expires_at > bindparam("now"),
    )
)


@dataclass(frozen=True)
class Principal:
    """The authenticated user of a request or connection, the login session it belongs to,
    and when its access token expires."""

    user: User
    session_id: str
    expires_at: datetime | None = None


async def authenticate(
    session: AsyncSession, keys: JWTKeys, token: str, now: datetime
) -> Principal:
    """Verify the token and that its user is active and its session not ended; else 401.

    The role and the active flag come from the database row, never from the token.
    """
    claims = keys.decode_access(token)
    params = {"user_id": claims.user_id, "session_id": claims.session_id, "now": now}
    user = await session.scalar(_LIVE_SESSION, params)
    if user is None or user.token_version != claims.token_version:
        raise Unauthorized("this session has ended", code="session_ended")
    if not user.is_active:
        raise Unauthorized("this account is disabled", code="account_disabled")
    return Principal(user, claims.session_id, claims.expires_at)
