"""The kill switch through the API: panic button, admin halt/resume/liquidate, audit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import R, trading_api


@pytest.fixture(scope="module")
async def tapi(request, tmp_path_factory):
    """One app and engine for the module; every test makes its own traders."""
    settings = settings_for("sqlite", request, tmp_path_factory.mktemp("trading"))
    async with trading_api(settings) as api:
        yield api


async def _trader(api):
    trader = await api.trader()
    return trader, await api.account(trader)


async def _long(api, trader, account, quantity="10"):
    """A filled long position in SOLUSDT."""
    await api.tick("SOLUSDT", 150.0)
    r = await api.place(trader, account, quantity=quantity)
    await api.tick("SOLUSDT", 150.0)
    order = await api.client.get(f"{R}/orders/{r.json()['id']}", headers=trader.headers)
    assert order.json()["status"] == "FILLED", order.text


async def _resting_buy(api, trader, account, symbol="SOLUSDT", price="149"):
    r = await api.place(trader, account, symbol=symbol, order_type="LIMIT", limit_price=price)
    assert r.json()["status"] == "OPEN", r.text
    return r.json()["id"]


async def _status(api, trader, order_id):
    r = await api.client.get(f"{R}/orders/{order_id}", headers=trader.headers)
    return r.json()["status"]


async def test_panic_button_cancels_working_orders(tapi):
    trader, account = await _trader(tapi)
    await tapi.tick("SOLUSDT", 150.0)
    order_id = await _resting_buy(tapi, trader, account)

    r = await tapi.client.post(f"{R}/trading/halt", headers=trader.headers, json={})

    assert r.status_code == 200
    assert r.json()["halted"] is True
    assert await tapi.status_of(trader, order_id, "CANCELLED") == "CANCELLED"


async def test_halted_user_cannot_open_new_exposure(tapi):
    trader, account = await _trader(tapi)
    await tapi.client.post(f"{R}/trading/halt", headers=trader.headers, json={"reason": "tilt"})
    await tapi.tick("SOLUSDT", 150.0)

    r = await tapi.place(trader, account)

    assert (r.json()["status"], r.json()["reason_code"]) == ("DENIED", "halted_user")


async def test_halted_user_may_still_reduce_a_position(tapi):
    trader, account = await _trader(tapi)
    await _long(tapi, trader, account, quantity="10")
    await tapi.client.post(f"{R}/trading/halt", headers=trader.headers, json={})

    r = await tapi.place(trader, account, side="SELL", quantity="4")

    assert r.json()["status"] == "OPEN"
    decision = (
        await tapi.client.get(f"{R}/orders/{r.json()['id']}", headers=trader.headers)
    ).json()["risk_decisions"][0]
    assert (decision["check_name"], decision["code"]) == ("kill_switch", "risk_reducing")


async def test_user_lifts_their_own_halt(tapi):
    trader, account = await _trader(tapi)
    await tapi.client.post(f"{R}/trading/halt", headers=trader.headers, json={})

    r = await tapi.client.post(f"{R}/trading/resume", headers=trader.headers)
    await tapi.tick("SOLUSDT", 150.0)
    placed = await tapi.place(trader, account)

    assert r.json()["halted"] is False
    assert placed.json()["status"] == "OPEN"


async def test_user_cannot_lift_an_admin_halt(tapi):
    admin, (trader, _) = await tapi.admin(), await _trader(tapi)
    await tapi.client.post(
        f"{R}/admin/trading/halt",
        headers=admin.headers,
        json={"user_id": trader.id, "reason": "compliance review"},
    )

    r = await tapi.client.post(f"{R}/trading/resume", headers=trader.headers)

    assert r.status_code == 403
    assert r.json()["code"] == "halted_by_admin"
    status = await tapi.client.get(f"{R}/trading/status", headers=trader.headers)
    assert status.json()["halted"] is True


async def test_admin_halt_of_one_user_leaves_others_trading(tapi):
    admin, (halted, halted_account), (other, other_account) = (
        await tapi.admin(),
        await _trader(tapi),
        await _trader(tapi),
    )
    await tapi.client.post(
        f"{R}/admin/trading/halt", headers=admin.headers, json={"user_id": halted.id, "reason": "x"}
    )
    await tapi.tick("SOLUSDT", 150.0)

    denied = await tapi.place(halted, halted_account)
    allowed = await tapi.place(other, other_account)

    assert denied.json()["reason_code"] == "halted_user"
    assert allowed.json()["status"] == "OPEN"


async def test_global_halt_stops_everyone_and_is_audited(tapi):
    admin, (trader, account) = await tapi.admin(), await _trader(tapi)
    await tapi.tick("SOLUSDT", 150.0)
    working = await _resting_buy(tapi, trader, account)
    try:
        halt = await tapi.client.post(
            f"{R}/admin/trading/halt", headers=admin.headers, json={"reason": "exchange outage"}
        )
        denied = await tapi.place(trader, account)
        status = await tapi.client.get(f"{R}/admin/trading/status", headers=admin.headers)
    finally:
        resumed = await tapi.client.post(
            f"{R}/admin/trading/resume", headers=admin.headers, json={}
        )

    assert halt.status_code == 200
    assert working in halt.json()["cancelled_order_ids"]
    assert denied.json()["reason_code"] == "halted_global"
    assert status.json()["global_halt"]["reason"] == "exchange outage"
    assert resumed.json()["halts"][0]["id"] == halt.json()["halts"][0]["id"]
    audit = await tapi.client.get(f"{R}/admin/audit?action=trading.halt", headers=admin.headers)
    entry = audit.json()["items"][0]
    assert (entry["actor_id"], entry["details"]["reason"]) == (admin.id, "exchange outage")


async def test_liquidation_closes_open_positions(tapi):
    admin, (trader, account) = await tapi.admin(), await _trader(tapi)
    await _long(tapi, trader, account, quantity="6")

    r = await tapi.client.post(
        f"{R}/admin/trading/liquidate", headers=admin.headers, json={"user_id": trader.id}
    )
    (order,) = r.json()["orders"]
    await _until_open(tapi, trader, order["id"])
    await tapi.tick("SOLUSDT", 151.0)

    assert (order["side"], order["quantity"], order["origin"]) == ("SELL", "6", "system")
    positions = await tapi.client.get(f"{R}/positions?open_only=false", headers=trader.headers)
    assert Decimal(positions.json()["items"][0]["quantity"]) == 0


async def _until_open(api, trader, order_id):
    import asyncio

    for _ in range(200):
        if await _status(api, trader, order_id) not in ("PENDING", "SUBMITTED"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("order never left PENDING")
