"""Secret encryption with rotatable keys, masking, password hashing."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from shared.security.passwords import PasswordHasher
from shared.security.secrets import SecretBox, mask


def test_rotated_key_still_decrypts_and_rotate_reencrypts_with_new_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretBox([old]).encrypt("api-secret")
    box = SecretBox([new, old])
    assert box.decrypt(token) == "api-secret"
    rotated = box.rotate(token)
    assert SecretBox([new]).decrypt(rotated) == "api-secret"
    with pytest.raises(ValueError):
        SecretBox([new]).decrypt(token)


def test_mask_shows_at_most_the_last_four_characters():
    assert mask("abcdefghijkl") == "****ijkl"
    assert mask("short") == "****"


async def test_long_passwords_are_not_truncated():
    hasher = PasswordHasher(fast_for_tests=True)
    long = "x" * 200
    hashed = await hasher.hash(long)
    assert hashed.startswith("$argon2id$")
    assert not await hasher.verify("x" * 199 + "y", hashed)
    assert await hasher.verify(long, hashed)
