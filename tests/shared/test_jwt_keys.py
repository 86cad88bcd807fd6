"""Access tokens: a token verified once is not verified again, and still expires."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest

from shared.config import Settings
from shared.errors import Unauthorized
from shared.security import jwt as jwt_module
from shared.security.jwt import JWTKeys


class Wall:
    """The keys' clock for kept tokens, starting at the moment the test issues its tokens
    (the library checks their expiry on the real clock when it first verifies them)."""

    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now


def _now() -> datetime:
    return datetime.now(UTC)


def _keys(wall: Wall) -> JWTKeys:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="development",
        jwt_secret=secrets.token_urlsafe(48),
        access_token_minutes=15,
    )
    return JWTKeys(settings, wall=wall)


def test_a_token_verified_once_is_not_verified_again(monkeypatch: pytest.MonkeyPatch) -> None:
    now = _now()
    keys = _keys(Wall(now))
    token, _ = keys.encode_access(7, "session", 1, now)
    verified = []
    decode = jwt_module.jwt.decode
    monkeypatch.setattr(
        jwt_module.jwt, "decode", lambda *a, **kw: verified.append(1) or decode(*a, **kw)
    )

    first, second = keys.decode_access(token), keys.decode_access(token)

    assert first == second and first.user_id == 7 and len(verified) == 1


def test_a_kept_token_still_expires() -> None:
    now = _now()
    wall = Wall(now)
    keys = _keys(wall)
    token, expires = keys.encode_access(7, "session", 1, now)
    keys.decode_access(token)

    wall.now = expires.timestamp() + 1
    with pytest.raises(Unauthorized):
        keys.decode_access(token)


def test_a_token_changed_after_its_original_was_kept_is_refused() -> None:
    now = _now()
    keys = _keys(Wall(now))
    token, _ = keys.encode_access(7, "session", 1, now)
    keys.decode_access(token)
    head, payload, signature = token.split(".")
    forged = ".".join([head, payload, signature[::-1]])

    with pytest.raises(Unauthorized):
        keys.decode_access(forged)


def test_the_tokens_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jwt_module, "VERIFIED_KEPT", 3)
    now = _now()
    keys = _keys(Wall(now))
    tokens = [keys.encode_access(n, "session", 1, now)[0] for n in range(1, 6)]

    claims = [keys.decode_access(t) for t in tokens]

    assert [c.user_id for c in claims] == [1, 2, 3, 4, 5]
    assert len(keys._verified) == 3 and tokens[-1] in keys._verified
