"""Access tokens: HS256 JWTs, one pinned algorithm, required claims, key rotation by ``kid``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jose import JWTError, jwt

from shared.config import Settings
from shared.errors import Unauthorized

ALGORITHM = "HS256"
ACCESS = "access"
REQUIRED_CLAIMS = ("sub", "exp", "iat", "type", "sid", "ver", "jti")
VERIFIED_KEPT = 10_000
"""Tokens whose signature was verified, kept by each process so a client's next request
with the same token is not verified again (expiry is still checked on every use)."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_id: str
    token_version: int
    expires_at: datetime


class JWTKeys:
    """The signing key (current ``kid``) and older keys still accepted for verification.

    What a token's signature and claims proved is kept for the ``VERIFIED_KEPT`` tokens
    verified last, so the requests of a signed-in client pay for the verification once;
    its expiry is checked again on every use. Whether the session behind it is alive is
    not for a token to say: that is the database's (``shared.auth.authenticate``).
    """

    def __init__(self, settings: Settings, *, wall: Callable[[], float] = time.time) -> None:
        self.current_kid = settings.jwt_kid
        self._keys = {settings.jwt_kid: settings.jwt_secret.get_secret_value()}
        for pair in settings.jwt_previous_keys:
            kid, _, secret = pair.partition(":")
            if kid and secret:
                self._keys.setdefault(kid, secret)
        self.access_ttl = timedelta(minutes=settings.access_token_minutes)
        self._wall = wall
        self._verified: dict[str, AccessClaims] = {}

    def encode_access(
        self, user_id: int, session_id: str, token_version: int, now: datetime
    ) -> tuple[str, datetime]:
        expires = now + self.access_ttl
        claims = {
            "sub": str(user_id),
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "type": ACCESS,
            "sid": session_id,
            "ver": token_version,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(
            claims,
            self._keys[self.current_kid],
            algorithm=ALGORITHM,
            headers={"kid": self.current_kid},
        )
        return token, expires

    def decode_access(self, token: str) -> AccessClaims:
        """Verify signature, algorithm, expiry and claim types; anything off is a 401."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._verified) >= VERIFIED_KEPT:
                del self._verified[next(iter(self._verified))]  # the oldest
            self._verified[token] = claims
        if claims.expires_at.timestamp() < self._wall():
            raise _invalid()
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except JWTError as exc:
            raise _invalid() from exc
        if header.get("alg") != ALGORITHM:
            raise _invalid()
        key = self._keys.get(str(header.get("kid", "")))
        if key is None:
            raise _invalid()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                options={
                    "require_exp": True,
                    "require_iat": True,
                    "require_sub": True,
                    "require_jti": True,
                    "leeway": 0,
                },
            )
        except JWTError as exc:
            raise _invalid() from exc
        if any(name not in claims for name in REQUIRED_CLAIMS) or claims["type"] != ACCESS:
            raise _invalid()
        try:
            return AccessClaims(
                user_id=int(claims["sub"]),
                session_id=str(claims["sid"]),
                token_version=int(claims["ver"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            )
        except (TypeError, ValueError) as exc:
            raise _invalid() from exc


def _invalid() -> Unauthorized:
    return Unauthorized("invalid or expired token", code="invalid_token")
