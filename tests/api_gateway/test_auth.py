"""Registration, login, refresh rotation, logout and password change, on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.api_gateway.conftest import Api, build_api, settings_for
from tests.api_gateway.factories import PASSWORD, login, register

R = "/api/v1"
ADDRESS_LIMIT = 5


@pytest.fixture
async def address_limited_api(request, tmp_path) -> AsyncIterator[Api]:
    """The gateway on SQLite with a small per-address failure limit."""
    settings = settings_for(
        "sqlite", request, tmp_path, max_login_attempts_per_address=ADDRESS_LIMIT
    )
    async for built in build_api(settings):
        yield built


async def test_registered_user_can_log_in_and_read_me(api):
    user = await register(api.client, "alice@example.com")
    tokens = await login(api.client, "ALICE@example.com")
    me = await api.client.get(
        f"{R}/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]
    assert "password" not in me.text and "argon2" not in me.text


async def test_duplicate_email_is_409(api):
    await register(api.client, "dup@example.com")
    r = await api.client.post(
        f"{R}/auth/register", json={"email": "dup@example.com", "password": PASSWORD}
    )
    assert r.status_code == 409
    assert r.json()["code"] == "email_taken"


async def test_wrong_password_is_401(api):
    await register(api.client, "bob@example.com")
    r = await api.client.post(
        f"{R}/auth/login", json={"email": "bob@example.com", "password": "wrong password!"}
    )
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_credentials"


async def test_refresh_rotates_and_old_token_reuse_revokes_family(api):
    trader = await api.trader()
    first = await api.client.post(f"{R}/auth/refresh", json={"refresh_token": trader.refresh})
    assert first.status_code == 200
    rotated = first.json()
    reuse = await api.client.post(f"{R}/auth/refresh", json={"refresh_token": trader.refresh})
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "token_reuse"
    # the whole family is gone: the rotated refresh token and its access token too
    after = await api.client.post(
        f"{R}/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert after.status_code == 401
    me = await api.client.get(
        f"{R}/users/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert me.status_code == 401


async def test_concurrent_refresh_with_one_token_issues_at_most_one_pair(api):
    trader = await api.trader()
    results = await asyncio.gather(
        *[
            api.client.post(f"{R}/auth/refresh", json={"refresh_token": trader.refresh})
            for _ in range(5)
        ]
    )
    assert sum(r.status_code == 200 for r in results) <= 1
    assert all(r.status_code in (200, 401) for r in results)


async def test_logout_ends_access_and_refresh_tokens(api):
    trader = await api.trader()
    r = await api.client.post(f"{R}/auth/logout", headers=trader.headers)
    assert r.status_code == 204
    assert (await api.client.get(f"{R}/users/me", headers=trader.headers)).status_code == 401
    again = await api.client.post(f"{R}/auth/refresh", json={"refresh_token": trader.refresh})
    assert again.status_code == 401


async def test_password_change_ends_every_session(api):
    trader = await api.trader()
    other_session = await login(api.client, trader.email)
    r = await api.client.post(
        f"{R}/users/me/password",
        headers=trader.headers,
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
    )
    assert r.status_code == 204
    headers = {"Authorization": f"Bearer {other_session['access_token']}"}
    assert (await api.client.get(f"{R}/users/me", headers=headers)).status_code == 401
    assert (await api.client.get(f"{R}/users/me", headers=trader.headers)).status_code == 401
    await login(api.client, trader.email, "a brand new passphrase")


async def test_login_throttled_after_max_attempts_with_retry_after(api):
    await register(api.client, "carol@example.com")
    await register(api.client, "dave@example.com")
    bad = {"email": "carol@example.com", "password": "not the password"}
    codes = [(await api.client.post(f"{R}/auth/login", json=bad)).status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    locked = await api.client.post(
        f"{R}/auth/login", json={"email": "carol@example.com", "password": PASSWORD}
    )
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1
    assert locked.json()["code"] == "account_locked"
    # another user is unaffected
    await login(api.client, "dave@example.com")


async def test_own_successful_logins_do_not_reset_the_address_failure_count(address_limited_api):
    api = address_limited_api
    own = await register(api.client)
    others = [await register(api.client) for _ in range(ADDRESS_LIMIT + 1)]
    for other in others[:ADDRESS_LIMIT]:
        await login(api.client, own["email"])
        guess = {"email": other["email"], "password": "not the password"}
        assert (await api.client.post(f"{R}/auth/login", json=guess)).status_code == 401

    over = await api.client.post(
        f"{R}/auth/login", json={"email": others[-1]["email"], "password": "not the password"}
    )

    assert over.status_code == 429
    assert over.json()["code"] == "address_throttled"
    assert int(over.headers["Retry-After"]) >= 1
