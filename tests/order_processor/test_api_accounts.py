"""A broker account's lifecycle with trading: history is never erased, closing is final."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from shared.contracts import CHANNEL_CONTROL, ControlEvent
from shared.models import AuditEntry
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import R, trading_api
from tests.strategy_workers.walk_subscriptions import subscription_body


@pytest.fixture(scope="module")
async def tapi(request, tmp_path_factory):
    """One app and engine for the module; every test makes its own trader and account."""
    settings = settings_for("sqlite", request, tmp_path_factory.mktemp("accounts"))
    async with trading_api(settings) as api:
        yield api


async def _trader_with_account(api):
    trader = await api.trader()
    return trader, await api.account(trader)


async def _filled(api, trader, account, side="BUY", quantity="2"):
    await api.tick("SOLUSDT", 150.0)
    r = await api.place(trader, account, side=side, quantity=quantity)
    await api.tick("SOLUSDT", 150.0)
    order = await api.client.get(f"{R}/orders/{r.json()['id']}", headers=trader.headers)
    assert order.json()["status"] == "FILLED", order.text


async def _flat_with_history(api, trader, account):
    """Bought and sold again: orders, fills, ledger and a flat position row, nothing open."""
    await _filled(api, trader, account, "BUY")
    await _filled(api, trader, account, "SELL")


async def _close(api, trader, account):
    return await api.client.post(f"{R}/broker-accounts/{account}/close", headers=trader.headers)


async def _history(api, trader, account):
    """Totals of what the account's reads return."""
    q = f"broker_account_id={account}"
    out = {}
    for name, path in (
        ("orders", f"{R}/orders?{q}"),
        ("fills", f"{R}/fills?{q}"),
        ("positions", f"{R}/positions?{q}"),
    ):
        r = await api.client.get(path, headers=trader.headers)
        assert r.status_code == 200, r.text
        out[name] = r.json()["total"]
    return out


async def _drain(sub, wait=0.5):
    """The control events ``sub`` got until ``wait`` seconds pass without one."""
    events = []
    while (got := await sub.get(wait)) is not None:
        if isinstance(got[1], ControlEvent):
            events.append(got[1])
    await sub.close()
    return events


# -- deleting -----------------------------------------------------------------------------


async def test_account_with_history_cannot_be_deleted_and_keeps_everything(tapi):
    trader, account = await _trader_with_account(tapi)
    await _filled(tapi, trader, account)
    before = await _history(tapi, trader, account)

    r = await tapi.client.delete(f"{R}/broker-accounts/{account}", headers=trader.headers)

    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "account_has_history"
    counts = {d["field"]: d["count"] for d in body["details"]}
    assert counts["orders"] == 1 and counts["fills"] == 1 and counts["positions"] == 1
    assert counts["ledger_entries"] >= 1
    assert "1 order" in body["message"] and "close it instead" in body["message"]
    assert before == {"orders": 1, "fills": 1, "positions": 1}
    assert await _history(tapi, trader, account) == before
    got = await tapi.client.get(f"{R}/broker-accounts/{account}", headers=trader.headers)
    assert got.status_code == 200


async def test_account_with_only_a_subscription_cannot_be_deleted(tapi):
    trader, account = await _trader_with_account(tapi)
    sub = await tapi.client.post(
        f"{R}/subscriptions",
        headers=trader.headers,
        json=subscription_body(account, symbols=["SOLUSDT"]),
    )
    assert sub.status_code == 201, sub.text

    r = await tapi.client.delete(f"{R}/broker-accounts/{account}", headers=trader.headers)

    assert r.status_code == 409
    assert [(d["field"], d["count"]) for d in r.json()["details"]] == [("subscriptions", 1)]


async def test_account_without_history_is_deleted(tapi):
    trader, account = await _trader_with_account(tapi)

    r = await tapi.client.delete(f"{R}/broker-accounts/{account}", headers=trader.headers)

    assert r.status_code == 204
    got = await tapi.client.get(f"{R}/broker-accounts/{account}", headers=trader.headers)
    assert got.status_code == 404


# -- closing ------------------------------------------------------------------------------


async def test_close_with_an_open_position_is_409_and_changes_nothing(tapi):
    trader, account = await _trader_with_account(tapi)
    await _filled(tapi, trader, account)

    r = await _close(tapi, trader, account)

    assert r.status_code == 409
    assert r.json()["code"] == "account_not_flat"
    assert [(d["field"], d["count"]) for d in r.json()["details"]] == [("open_positions", 1)]
    got = await tapi.client.get(f"{R}/broker-accounts/{account}", headers=trader.headers)
    assert (got.json()["is_active"], got.json()["closed_at"]) == (True, None)


async def test_close_with_a_working_order_is_409(tapi):
    trader, account = await _trader_with_account(tapi)
    await tapi.tick("SOLUSDT", 150.0)
    placed = await tapi.place(trader, account, order_type="LIMIT", limit_price="149")
    assert placed.json()["status"] == "OPEN", placed.text

    r = await _close(tapi, trader, account)

    assert r.status_code == 409
    assert [(d["field"], d["count"]) for d in r.json()["details"]] == [("working_orders", 1)]
    order = await tapi.client.get(f"{R}/orders/{placed.json()['id']}", headers=trader.headers)
    assert order.json()["status"] == "OPEN"  # closing never cancels orders itself


async def test_closed_account_pauses_subscriptions_refuses_orders_and_stays_readable(tapi):
    trader, account = await _trader_with_account(tapi)
    await _flat_with_history(tapi, trader, account)
    sub = await tapi.client.post(
        f"{R}/subscriptions",
        headers=trader.headers,
        json=subscription_body(account, symbols=["SOLUSDT"]),
    )
    sub_id = sub.json()["id"]
    before = await _history(tapi, trader, account)
    events = await tapi.bus.subscribe([CHANNEL_CONTROL])

    r = await _close(tapi, trader, account)

    assert r.status_code == 200, r.text
    assert r.json()["is_active"] is False and r.json()["closed_at"] is not None
    published = await _drain(events)
    assert [(e.action, e.subscription_id) for e in published if e.broker_account_id is None] == [
        ("subscription_changed", sub_id)
    ]
    assert [(e.action, e.broker_account_id) for e in published if e.broker_account_id] == [
        ("account_closed", account)
    ]
    got = await tapi.client.get(f"{R}/subscriptions/{sub_id}", headers=trader.headers)
    assert got.json()["status"] == "paused"
    resumed = await tapi.client.post(f"{R}/subscriptions/{sub_id}/resume", headers=trader.headers)
    assert (resumed.status_code, resumed.json()["code"]) == (409, "account_closed")
    new_sub = await tapi.client.post(
        f"{R}/subscriptions",
        headers=trader.headers,
        json=subscription_body(account, symbols=["SOLUSDT"]),
    )
    assert new_sub.status_code == 422
    assert "closed" in new_sub.json()["message"]
    order = await tapi.place(trader, account)
    assert (order.status_code, order.json()["code"]) == (409, "account_inactive")
    assert await _history(tapi, trader, account) == before
    summary = await tapi.client.get(f"{R}/accounts/{account}/summary", headers=trader.headers)
    assert summary.status_code == 200
    again = await tapi.client.get(f"{R}/broker-accounts/{account}", headers=trader.headers)
    assert again.json()["closed_at"] == r.json()["closed_at"]


async def test_closed_account_cannot_be_reopened_and_closing_again_changes_nothing(tapi):
    trader, account = await _trader_with_account(tapi)
    closed = await _close(tapi, trader, account)

    reopen = await tapi.client.patch(
        f"{R}/broker-accounts/{account}", headers=trader.headers, json={"is_active": True}
    )
    again = await _close(tapi, trader, account)

    assert (reopen.status_code, reopen.json()["code"]) == (409, "account_closed")
    assert again.status_code == 200
    assert again.json()["closed_at"] == closed.json()["closed_at"]
    assert again.json()["is_active"] is False


async def test_close_drops_the_order_processors_cached_tracker(tapi):
    trader, account = await _trader_with_account(tapi)
    await _flat_with_history(tapi, trader, account)
    assert account in tapi.engine.reader.books

    r = await _close(tapi, trader, account)

    assert r.status_code == 200
    for _ in range(100):
        if account not in tapi.engine.reader.books:
            break
        await asyncio.sleep(0.01)
    assert account not in tapi.engine.reader.books


async def test_close_is_audited(tapi):
    trader, account = await _trader_with_account(tapi)

    await _close(tapi, trader, account)

    async with tapi.ctx.sessions() as session:
        rows = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "broker_account.close",
                    AuditEntry.target_id == str(account),
                )
            )
        ).all()
    assert [(r.actor_id, r.target_type) for r in rows] == [(trader.id, "broker_account")]
