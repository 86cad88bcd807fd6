"""Admin oversight: search, disable (ends sessions), roles, audit log."""

from __future__ import annotations

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
