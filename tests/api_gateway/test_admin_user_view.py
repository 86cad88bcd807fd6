"""An admin's view of one user: broker accounts, orders, positions and audit entries."""

from __future__ import annotations

R = "/api/v1"


async def _account_with_an_order(api, trader) -> int:
    account = await api.client.post(
        f"{R}/broker-accounts", headers=trader.headers, json={"label": "main"}
    )
    assert account.status_code == 201, account.text
    account_id = int(account.json()["id"])
    order = await api.client.post(
        f"{R}/orders",
        headers=trader.headers,
        json={
            "broker_account_id": account_id,
            "symbol": "RELIANCE",
            "side": "BUY",
            "quantity": "1",
            "order_type": "LIMIT",
            "limit_price": "2000",
        },
    )
    assert order.status_code == 201, order.text
    return account_id


async def test_admin_reads_one_users_accounts_orders_positions_and_audit(sqlite_api):
    api = sqlite_api
    admin, trader, other = await api.admin(), await api.trader(), await api.trader()
    account_id = await _account_with_an_order(api, trader)
    await _account_with_an_order(api, other)

    def get(what: str):
        return api.client.get(f"{R}/admin/users/{trader.id}/{what}", headers=admin.headers)

    accounts, orders, positions, audit = [
        await get(w) for w in ("broker-accounts", "orders", "positions", "audit")
    ]

    assert [a["id"] for a in accounts.json()["items"]] == [account_id]
    assert [o["broker_account_id"] for o in orders.json()["items"]] == [account_id]
    assert positions.status_code == 200 and positions.json()["items"] == []
    entries = audit.json()["items"]
    assert {"user.register", "user.login", "broker_account.create"} <= {
        e["action"] for e in entries
    }
    assert all(e["actor_id"] == trader.id or e["target_id"] == str(trader.id) for e in entries)


async def test_the_per_user_view_of_an_unknown_user_is_404_and_a_trader_gets_403(sqlite_api):
    api = sqlite_api
    admin, trader = await api.admin(), await api.trader()

    unknown = await api.client.get(f"{R}/admin/users/999999/orders", headers=admin.headers)
    as_trader = await api.client.get(f"{R}/admin/users/{trader.id}/orders", headers=trader.headers)

    assert unknown.status_code == 404
    assert as_trader.status_code == 403
