"""The loopback test setting: off by default and refused in production."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from shared.config import Settings


def test_loopback_targets_are_off_by_default():
    assert Settings(_env_file=None).alerts_allow_loopback is False


def test_loopback_targets_are_refused_in_production():
    with pytest.raises(ValidationError, match="ALGOTRADE_ALERTS_ALLOW_LOOPBACK"):
        Settings(
            _env_file=None,
            environment="production",
            jwt_secret="s" * 40,
            secrets_encryption_keys=[Fernet.generate_key().decode()],
            alerts_allow_loopback=True,
        )
