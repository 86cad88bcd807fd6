"""Two-factor recovery codes: generated at enrolment, shown once, each accepted once.

A code is 16 characters of RFC 4648 base32 (80 random bits), shown in groups of
four (``abcd-efgh-ijkl-mnop``) and read back ignoring case, spaces and hyphens.
It is stored as an HMAC-SHA256 keyed by the user's id: 80 random bits make an
offline search hopeless without a slow hash (as with refresh tokens), the key
ties each digest to its owner, and a lookup is one indexed query instead of an
argon2 verification per stored code.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

COUNT = 10
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_LENGTH = 16
_GROUP = 4
# What a request may carry: the code with optional separators (checked again after normalising).
PATTERN = r"^[A-Za-z2-7][A-Za-z2-7 \-]{14,30}[A-Za-z2-7]$"


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
    return "-".join(raw[i : i + _GROUP] for i in range(0, _LENGTH, _GROUP))


def new_codes(count: int = COUNT) -> list[str]:
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(new_code())
    return sorted(codes)


def normalise(code: str) -> str | None:
    """The code's 16 characters, lower case, or None when it cannot be a recovery code."""
    cleaned = re.sub(r"[\s\-]", "", code).lower()
    if len(cleaned) != _LENGTH or any(c not in _ALPHABET for c in cleaned):
        return None
    return cleaned


def digest(user_id: int, code: str) -> str:
    """The stored form of ``code`` (normalised) for ``user_id``."""
    key = f"algotrade-recovery-code:{user_id}".encode()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()
