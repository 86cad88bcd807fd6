"""Property-based fuzzing of every operation in the OpenAPI document with a real token:
no input may produce a 5xx or a response that breaks the schema."""

from __future__ import annotations

import asyncio
import secrets

import pytest
import schemathesis
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, settings
from starlette.testclient import TestClient

from algotrade.migrate import upgrade
from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from shared.config import Settings


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory):
    data = tmp_path_factory.mktemp("fuzz")
    cfg = Settings(
        _env_file=None,
        environment="test",
        data_dir=data,
        jwt_secret=secrets.token_urlsafe(48),
        max_login_attempts=1000,
        max_login_attempts_per_address=100000,
        secrets_encryption_keys=[Fernet.generate_key().decode()],
    )
    upgrade(cfg.migration_url)
    ctx = GatewayContext.build(cfg)
    app = create_app(ctx, dispose_engine=False)
    with TestClient(app) as client:
        body = {"email": "fuzz@example.com", "password": "fuzzing password 1"}
        assert client.post("/api/v1/auth/register", json=body).status_code == 201
        token = client.post("/api/v1/auth/login", json=body).json()["access_token"]
        client.post(
            "/api/v1/broker-accounts",
            json={"label": "fuzz"},
            headers={"Authorization": f"Bearer {token}"},
        )
    yield app, token
    asyncio.run(ctx.engine.dispose())


@pytest.fixture(scope="module")
def api_schema(fuzz_target):
    app, _ = fuzz_target
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_produces_a_server_error(case, fuzz_target):
    _, token = fuzz_target
    if case.path in ("/api/v1/auth/logout", "/api/v1/users/me/password") or "disable" in case.path:
        case.headers = {**(case.headers or {}), "Authorization": "Bearer invalid"}
    else:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    case.call_and_validate(checks=[schemathesis.checks.not_a_server_error])
