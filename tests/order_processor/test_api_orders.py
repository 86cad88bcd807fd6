"""REST orders end to end: the gateway's order routes with a running order processor."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from order_processor.brokers import BrokerWrapper
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import R, order_body, trading_api

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.service)]


class CountingBroker(BrokerWrapper):
    """The paper broker, counting the orders it is sent."""

    def __init__(self, inner):
        super().__init__(inner)
        self.placed: list[str] = []

    async def place(self, order):
        self.placed.append(order.client_order_id)
        return await super().place(order)


@pytest.fixture(scope="module")
async def tapi(request, tmp_path_factory):
    """One app and engine for the module; every test makes its own trader and account."""
    settings = settings_for("sqlite", request, tmp_path_factory.mktemp("orders"))
    async with trading_api(settings, wrap=CountingBroker) as api:
        yield api


@pytest.fixture(params=BACKENDS)
async def any_db_api(request, tmp_path):
    settings = settings_for(request.param, request, tmp_path)
    async with trading_api(settings, wrap=CountingBroker) as api:
        yield api


async def _trader_with_account(api, capital="100000"):
    trader = await api.trader()
    return trader, await api.account(trader, capital)


async def _get(api, trader, order_id):
    r = await api.client.get(f"{R}/orders/{order_id}", headers=trader.headers)
    assert r.status_code == 200, r.text
    return r.json()


# -- placing and idempotency ------------------------------------------------------------


async def test_market_order_fills_at_the_next_tick(tapi):
    trader, account = await _trader_with_account(tapi)
    await tapi.tick("SOLUSDT", 150.0)

    placed = await tapi.place(trader, account, quantity="2")
    await tapi.tick("SOLUSDT", 151.25)

    assert placed.status_code == 201
    assert placed.json()["status"] == "OPEN"
    order = await _get(tapi, trader, placed.json()["id"])
    assert (order["status"], order["filled_quantity"], order["average_price"]) == (
        "FILLED",
        "2",
        "151.25",
    )


async def test_identical_concurrent_submissions_make_one_order_one_broker_call(any_db_api):
    api = any_db_api
    trader, account = await _trader_with_account(api)
    await api.tick("SOLUSDT", 150.0)
    body = order_body(
        account, order_type="LIMIT", limit_price="145.5", client_order_id="same-key-1"
    )

    responses = await asyncio.gather(
        *(api.client.post(f"{R}/orders", headers=trader.headers, json=body) for _ in range(20))
    )

    assert {r.status_code for r in responses} == {201}
    assert len({r.text for r in responses}) == 1
    assert responses[0].json()["status"] == "OPEN"
    listing = await api.client.get(f"{R}/orders", headers=trader.headers)
    assert listing.json()["total"] == 1
    assert api.engine.broker.placed.count("same-key-1") == 1


async def test_same_key_with_another_body_is_refused(any_db_api):
    api = any_db_api
    trader, account = await _trader_with_account(api)
    first = await api.place(trader, account, client_order_id="k-1", quantity="1")

    second = await api.place(trader, account, client_order_id="k-1", quantity="2")

    assert first.status_code == 201
    assert second.status_code == 422
    assert second.json()["code"] == "idempotency_key_reused"


async def test_idempotency_key_header_acts_as_the_client_order_id(tapi):
    trader, account = await _trader_with_account(tapi)
    headers = {**trader.headers, "Idempotency-Key": "hdr-1"}
    body = order_body(account)

    first = await tapi.client.post(f"{R}/orders", headers=headers, json=body)
    again = await tapi.client.post(f"{R}/orders", headers=headers, json=body)

    assert first.json()["client_order_id"] == "hdr-1"
    assert again.json()["id"] == first.json()["id"]


async def test_the_same_key_belongs_to_each_user_separately(tapi):
    alice, alice_account = await _trader_with_account(tapi)
    bob, bob_account = await _trader_with_account(tapi)

    a = await tapi.place(alice, alice_account, client_order_id="shared")
    b = await tapi.place(bob, bob_account, client_order_id="shared", quantity="3")

    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]


# -- bad requests -------------------------------------------------------------------------


async def test_unknown_symbol_is_404(tapi):
    trader, account = await _trader_with_account(tapi)

    r = await tapi.place(trader, account, symbol="NOSUCH")

    assert r.status_code == 404
    assert r.json()["code"] == "unknown_instrument"


async def test_malformed_order_is_422_with_every_problem(tapi):
    trader, account = await _trader_with_account(tapi)

    r = await tapi.place(trader, account, order_type="LIMIT", quantity="0.0005")

    assert r.status_code == 422
    codes = {d["code"] for d in r.json()["details"]}
    assert codes == {"limit_price_required", "quantity_not_lot_multiple"}


@pytest.mark.parametrize(
    "field,value", [("user_id", 1), ("status", "FILLED"), ("origin", "system")]
)
async def test_order_body_refuses_unknown_fields(tapi, field, value):
    trader, account = await _trader_with_account(tapi)

    r = await tapi.place(trader, account, **{field: value})

    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == field


async def test_another_users_account_is_404(tapi):
    alice = await tapi.trader()
    _, bob_account = await _trader_with_account(tapi)

    r = await tapi.place(alice, bob_account)

    assert r.status_code == 404


async def test_inactive_account_takes_no_orders(tapi):
    trader, account = await _trader_with_account(tapi)
    await tapi.client.patch(
        f"{R}/broker-accounts/{account}", headers=trader.headers, json={"is_active": False}
    )

    r = await tapi.place(trader, account)

    assert r.status_code == 409
    assert r.json()["code"] == "account_inactive"


async def test_inr_account_ordering_btcusdt_is_422_and_stores_no_order(tapi):
    trader = await tapi.trader()
    account = await tapi.account(trader, currency="INR")
    await tapi.tick("BTCUSDT", 60000.0)

    r = await tapi.place(trader, account, symbol="BTCUSDT", quantity="0.001")

    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "currency_mismatch"
    assert "INR" in body["message"] and "USDT" in body["message"]
    assert [d["field"] for d in body["details"]] == ["symbol"]
    listing = await tapi.client.get(f"{R}/orders", headers=trader.headers)
    assert listing.json()["total"] == 0


async def test_usdt_account_buys_btcusdt(tapi):
    trader = await tapi.trader()
    account = await tapi.account(trader, currency="USDT")
    await tapi.tick("BTCUSDT", 60000.0)

    r = await tapi.place(trader, account, symbol="BTCUSDT", quantity="0.001")

    assert r.status_code == 201, r.text
    assert r.json()["status"] == "OPEN"


# -- the risk chain -----------------------------------------------------------------------


async def test_denied_order_shows_the_failing_check_and_every_decision(tapi):
    trader, account = await _trader_with_account(tapi)
    await tapi.tick("SOLUSDT", 150.0)

    r = await tapi.place(trader, account, order_type="LIMIT", limit_price="100")

    assert r.json()["status"] == "DENIED"
    assert r.json()["reason_code"] == "price_band_exceeded"
    decisions = (await _get(tapi, trader, r.json()["id"]))["risk_decisions"]
    assert [d["check_name"] for d in decisions][-1] == "price_band"
    assert [d["approved"] for d in decisions] == [True] * (len(decisions) - 1) + [False]
    assert r.json()["client_order_id"] not in tapi.engine.broker.placed


# -- cancel and modify --------------------------------------------------------------------


async def _resting(api, trader, account, price="149", **fields):
    await api.tick("SOLUSDT", 150.0)
    r = await api.place(trader, account, order_type="LIMIT", limit_price=price, **fields)
    assert r.json()["status"] == "OPEN", r.text
    return r.json()


async def test_cancelled_order_never_fills(tapi):
    trader, account = await _trader_with_account(tapi)
    order = await _resting(tapi, trader, account)

    cancelled = await tapi.client.post(f"{R}/orders/{order['id']}/cancel", headers=trader.headers)
    await tapi.tick("SOLUSDT", 140.0)

    assert cancelled.json()["status"] == "CANCELLED"
    after = await _get(tapi, trader, order["id"])
    assert (after["status"], after["filled_quantity"]) == ("CANCELLED", "0")
    fills = await tapi.client.get(f"{R}/fills", headers=trader.headers)
    assert fills.json()["total"] == 0


async def test_cancel_of_a_filled_order_is_409(tapi):
    trader, account = await _trader_with_account(tapi)
    await tapi.tick("SOLUSDT", 150.0)
    placed = await tapi.place(trader, account)
    await tapi.tick("SOLUSDT", 150.0)

    r = await tapi.client.post(f"{R}/orders/{placed.json()['id']}/cancel", headers=trader.headers)

    assert r.status_code == 409
    assert r.json()["code"] == "order_not_open"


async def test_modified_limit_price_is_what_fills(tapi):
    trader, account = await _trader_with_account(tapi)
    order = await _resting(tapi, trader, account, price="145")

    r = await tapi.client.patch(
        f"{R}/orders/{order['id']}", headers=trader.headers, json={"limit_price": "149.5"}
    )
    await tapi.tick("SOLUSDT", 149.0)

    assert r.status_code == 200
    after = await _get(tapi, trader, order["id"])
    assert (after["status"], after["average_price"]) == ("FILLED", "149")


async def test_change_that_breaks_a_limit_is_denied_and_recorded(tapi):
    trader, account = await _trader_with_account(tapi)
    order = await _resting(tapi, trader, account)

    r = await tapi.client.patch(
        f"{R}/orders/{order['id']}", headers=trader.headers, json={"quantity": "500"}
    )

    assert r.status_code == 422
    assert r.json()["code"] == "risk_denied"
    after = await _get(tapi, trader, order["id"])
    assert after["quantity"] == "1"
    assert any(
        d["message"].startswith("modify:") and not d["approved"] for d in after["risk_decisions"]
    )


async def test_cancel_all_cancels_open_orders_of_the_symbol_only(tapi):
    trader, account = await _trader_with_account(tapi)
    await tapi.set_limits(trader.id, disabled_checks=["duplicate_position"])
    sol = await _resting(tapi, trader, account)
    await tapi.tick("ETHUSDT", 3200.0)
    eth = await tapi.place(
        trader, account, symbol="ETHUSDT", order_type="LIMIT", limit_price="3190"
    )

    r = await tapi.client.post(f"{R}/orders/cancel-all?symbol=SOLUSDT", headers=trader.headers)

    assert r.json()["count"] == 1
    assert await tapi.status_of(trader, sol["id"], "CANCELLED") == "CANCELLED"
    assert (await _get(tapi, trader, eth.json()["id"]))["status"] == "OPEN"


async def test_orders_list_filters_by_status(tapi):
    trader, account = await _trader_with_account(tapi)
    await _resting(tapi, trader, account)
    await tapi.place(trader, account, order_type="LIMIT", limit_price="10")  # denied: price band

    r = await tapi.client.get(f"{R}/orders?status=DENIED", headers=trader.headers)

    assert [o["status"] for o in r.json()["items"]] == ["DENIED"]


# -- fills, positions, account ------------------------------------------------------------


async def test_positions_and_summary_follow_the_fills(tapi):
    trader, account = await _trader_with_account(tapi, capital="100000")
    await tapi.tick("SOLUSDT", 150.0)
    await tapi.place(trader, account, quantity="10")
    await tapi.tick("SOLUSDT", 150.0)
    await tapi.place(trader, account, side="SELL", quantity="4")
    await tapi.tick("SOLUSDT", 160.0)
    await tapi.tick("SOLUSDT", 155.0)

    positions = (await tapi.client.get(f"{R}/positions", headers=trader.headers)).json()
    fills = (await tapi.client.get(f"{R}/fills", headers=trader.headers)).json()["items"]
    summary = (
        await tapi.client.get(f"{R}/accounts/{account}/summary", headers=trader.headers)
    ).json()

    (position,) = positions["items"]
    assert Decimal(position["quantity"]) == Decimal(6)
    assert Decimal(position["realised_pnl"]) == Decimal(40)  # 4 x (160 - 150)
    charges = sum(Decimal(f["charges"]) for f in fills)
    flows = sum(
        Decimal(f["quantity"]) * Decimal(f["price"]) * (-1 if f["side"] == "BUY" else 1)
        for f in fills
    )
    assert Decimal(summary["cash"]) == Decimal(100000) + flows - charges
    assert Decimal(summary["equity"]) == Decimal(summary["cash"]) + 6 * Decimal(155)
    assert Decimal(summary["unrealised_pnl"]) == 6 * (Decimal(155) - Decimal(150))
