"""Settings: defaults for development, refusal of default secrets elsewhere."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from shared.config import Settings


def test_development_accepts_defaults_and_uses_sqlite():
    s = Settings(_env_file=None)
    assert s.sqlalchemy_url.startswith("sqlite+aiosqlite:///")
    assert (s.db_pool_size, s.db_max_overflow, s.db_pool_timeout, s.db_pool_recycle) == (
        20,
        10,
        30.0,
        3600,
    )


@pytest.mark.parametrize("environment", ["production", "test"])
def test_default_jwt_secret_is_refused_outside_development(environment):
    with pytest.raises(ValidationError, match="ALGOTRADE_JWT_SECRET is the development default"):
        Settings(
            _env_file=None,
            environment=environment,
            secrets_encryption_keys=[Fernet.generate_key().decode()],
        )


def test_default_encryption_key_is_refused_outside_development():
    with pytest.raises(ValidationError, match="SECRETS_ENCRYPTION_KEYS"):
        Settings(_env_file=None, environment="production", jwt_secret="s" * 40)


def test_pgbouncer_for_services_but_migrations_straight_to_postgres():
    s = Settings(
        _env_file=None, profile="distributed", use_pgbouncer=True, db_port=5432, pgbouncer_port=6432
    )
    assert ":6432/" in s.sqlalchemy_url
    assert ":5432/" in s.migration_url


def test_comma_separated_lists_from_environment(monkeypatch):
    monkeypatch.setenv("ALGOTRADE_REDIS_CLUSTER_NODES", "10.0.0.1:7000, 10.0.0.2:7000")
    assert Settings(_env_file=None).redis_cluster_nodes == ["10.0.0.1:7000", "10.0.0.2:7000"]
