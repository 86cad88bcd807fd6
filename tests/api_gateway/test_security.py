"""Tenancy, admin-only routes, forged tokens and mass assignment, walking the route table."""

from __future__ import annotations

import base64
import json
import time

import pytest
from jose import jwt

from tests.api_gateway.route_walk import BODIES, PUBLIC, R, fill, owned_params, routes


async def test_second_trader_gets_404_for_every_route_with_the_first_traders_ids(sqlite_api):
    api = sqlite_api
    owner, intruder = await api.trader(), await api.trader()
    checked = 0
    for method, template in routes(api.app):
        if not owned_params(template) or template.startswith(f"{R}/admin/"):
            continue
        path = await fill(api.client, template, owner)
        r = await api.client.request(
            method, path, headers=intruder.headers, json=BODIES.get((method, template))
        )
        assert r.status_code == 404, f"{method} {template} as another trader: {r.status_code}"
        checked += 1
    assert checked >= 3


async def test_every_admin_route_is_401_anonymous_403_trader_2xx_admin(sqlite_api):
    api = sqlite_api
    admin, trader, target = await api.admin(), await api.trader(), await api.trader()
    admin_routes = [(m, p) for m, p in routes(api.app) if p.startswith(f"{R}/admin/")]
    assert len(admin_routes) >= 5
    for method, template in admin_routes:
        path = await fill(api.client, template, target)
        body = BODIES.get((method, template))
        anon = await api.client.request(method, path, json=body)
        as_trader = await api.client.request(method, path, json=body, headers=trader.headers)
        as_admin = await api.client.request(method, path, json=body, headers=admin.headers)
        assert anon.status_code == 401, f"{method} {template} anonymous"
        assert as_trader.status_code == 403, f"{method} {template} as trader"
        assert 200 <= as_admin.status_code < 300, f"{method} {template} as admin: {as_admin.text}"


async def test_every_private_route_is_401_without_a_token(sqlite_api):
    api = sqlite_api
    owner = await api.trader()
    for method, template in routes(api.app):
        if (method, template) in PUBLIC:
            continue
        path = await fill(api.client, template, owner)
        r = await api.client.request(method, path, json=BODIES.get((method, template)))
        assert r.status_code == 401, f"{method} {template} anonymous: {r.status_code}"


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _forgeries(api, access: str) -> dict[str, str]:
    header, payload, signature = access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    secret = api.ctx.settings.jwt_secret.get_secret_value()
    now = int(time.time())
    tampered = dict(claims, sub=str(int(claims["sub"]) + 1))
    return {
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{payload}.",
        "tampered_payload": f"{header}.{_b64(tampered)}.{signature}",
        "wrong_key": jwt.encode(claims, "x" * 48, algorithm="HS256", headers={"kid": "k1"}),
        "expired": jwt.encode(
            dict(claims, iat=now - 3600, exp=now - 60),
            secret,
            algorithm="HS256",
            headers={"kid": "k1"},
        ),
        "refresh_type": jwt.encode(
            dict(claims, type="refresh"), secret, algorithm="HS256", headers={"kid": "k1"}
        ),
        "hs512": jwt.encode(claims, secret, algorithm="HS512", headers={"kid": "k1"}),
        "unknown_kid": jwt.encode(claims, secret, algorithm="HS256", headers={"kid": "zz"}),
        "missing_sid": jwt.encode(
            {k: v for k, v in claims.items() if k != "sid"},
            secret,
            algorithm="HS256",
            headers={"kid": "k1"},
        ),
        "garbage": "not.a.jwt",
    }


@pytest.mark.parametrize(
    "kind",
    [
        "alg_none",
        "tampered_payload",
        "wrong_key",
        "expired",
        "refresh_type",
        "hs512",
        "unknown_kid",
        "missing_sid",
        "garbage",
    ],
)
async def test_forged_or_expired_tokens_are_401(sqlite_api, kind):
    api = sqlite_api
    trader = await api.trader()
    token = _forgeries(api, trader.access)[kind]
    r = await api.client.get(f"{R}/users/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


async def test_refresh_token_used_as_access_token_is_401(sqlite_api):
    api = sqlite_api
    trader = await api.trader()
    r = await api.client.get(f"{R}/users/me", headers={"Authorization": f"Bearer {trader.refresh}"})
    assert r.status_code == 401


async def test_token_signed_with_a_rotated_out_key_still_verifies_by_kid(
    sqlite_api, tmp_path, request
):
    from tests.api_gateway.conftest import build_api, settings_for

    api = sqlite_api
    trader = await api.trader()
    old_secret = api.ctx.settings.jwt_secret.get_secret_value()
    rotated = settings_for(
        "sqlite",
        request,
        tmp_path,
        jwt_kid="k2",
        jwt_secret="n" * 48,
        jwt_previous_keys=[f"k1:{old_secret}"],
    )
    async for api2 in build_api(rotated):
        r = await api2.client.get(f"{R}/users/me", headers=trader.headers)
        assert r.status_code == 200


@pytest.mark.parametrize(
    "field,value", [("role", "admin"), ("id", 999), ("is_active", True), ("token_version", 0)]
)
async def test_register_refuses_unknown_fields(sqlite_api, field, value):
    r = await sqlite_api.client.post(
        f"{R}/auth/register",
        json={"email": "mass@example.com", "password": "correct horse battery", field: value},
    )
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == field


async def test_broker_account_cannot_be_created_for_another_user(sqlite_api):
    api = sqlite_api
    owner, other = await api.trader(), await api.trader()
    r = await api.client.post(
        f"{R}/broker-accounts", headers=owner.headers, json={"label": "x", "user_id": other.id}
    )
    assert r.status_code == 422
