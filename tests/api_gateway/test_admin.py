"""Admin oversight: search, disable (ends sessions), roles, audit log."""

from __future__ import annotations

import pytest

from shared.models import Role, User

R = "/api/v1"


async def test_admin_disable_ends_the_users_tokens_and_login(api):
    admin = await api.admin()
    trader = await api.trader()
    r = await api.client.post(f"{R}/admin/users/{trader.id}/disable", headers=admin.headers)
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert (await api.client.get(f"{R}/users/me", headers=trader.headers)).status_code == 401
    login = await api.client.post(
        f"{R}/auth/login", json={"email": trader.email, "password": "correct horse battery staple"}
    )
    assert login.status_code == 401


async def test_admin_searches_users_and_reads_filtered_audit(api):
    admin = await api.admin()
    trader = await api.trader()
    found = await api.client.get(
        f"{R}/admin/users", headers=admin.headers, params={"q": trader.email[:8], "role": "trader"}
    )
    assert found.status_code == 200
    assert trader.id in [u["id"] for u in found.json()["items"]]
    audit = await api.client.get(
        f"{R}/admin/audit",
        headers=admin.headers,
        params={"action": "user.login", "actor_id": trader.id},
    )
    assert audit.status_code == 200
    entries = audit.json()["items"]
    assert entries and all(e["action"] == "user.login" for e in entries)


async def test_role_change_and_last_admin_cannot_be_demoted(api):
    admin = await api.admin()
    trader = await api.trader()
    promote = await api.client.put(
        f"{R}/admin/users/{trader.id}/role", headers=admin.headers, json={"role": "admin"}
    )
    assert promote.status_code == 200 and promote.json()["role"] == "admin"
    demote_self = await api.client.put(
        f"{R}/admin/users/{trader.id}/role", headers=admin.headers, json={"role": "trader"}
    )
    assert demote_self.status_code == 200


async def test_trader_cannot_set_own_role_through_profile_update(api):
    trader = await api.trader()
    r = await api.client.patch(
        f"{R}/users/me", headers=trader.headers, json={"full_name": "X", "role": "admin"}
    )
    assert r.status_code == 422
    me = await api.client.get(f"{R}/users/me", headers=trader.headers)
    assert me.json()["role"] == "trader"


async def test_a_boolean_user_id_is_refused_and_halts_nobody(sqlite_api):
    api = sqlite_api
    admin = await api.admin()  # the first user: id 1, which `true` would coerce to

    r = await api.client.post(
        f"{R}/admin/trading/halt", headers=admin.headers, json={"user_id": True, "reason": "probe"}
    )

    assert r.status_code == 422
    status = await api.client.get(f"{R}/admin/trading/status", headers=admin.headers)
    assert status.json() == {"global_halt": None, "user_halts": []}


@pytest.mark.parametrize("value", ["0.5", "1700000000", "tomorrow"])
async def test_audit_time_filters_take_iso_datetimes_only(sqlite_api, value):
    api = sqlite_api
    admin = await api.admin()

    r = await api.client.get(f"{R}/admin/audit", headers=admin.headers, params={"until": value})

    assert r.status_code == 422


async def test_audit_time_filters_accept_iso_datetimes(sqlite_api):
    api = sqlite_api
    admin = await api.admin()

    r = await api.client.get(
        f"{R}/admin/audit",
        headers=admin.headers,
        params={"since": "2020-01-01T00:00:00Z", "until": "2100-01-01T05:30:00+05:30"},
    )

    assert r.status_code == 200
    assert any(e["action"] == "user.login" for e in r.json()["items"])


async def test_an_admin_who_cannot_sign_in_leaves_the_last_admin_undemotable(api):
    admin = await api.admin()
    async with api.ctx.sessions() as session:
        # An admin with an address the login refuses (as an older create-admin made them).
        session.add(User(email="x@probe.local", password_hash="-", role=Role.ADMIN))
        await session.commit()

    r = await api.client.put(
        f"{R}/admin/users/{admin.id}/role", headers=admin.headers, json={"role": "trader"}
    )

    assert r.status_code == 409
    assert r.json()["code"] == "last_admin"
