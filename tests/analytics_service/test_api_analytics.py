"""REST: metrics, equity curves and round trips from the paper engine's real fills; ranges,
tenancy, the per-currency portfolio and the cache that follows new fills."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select, update

from shared.contracts import CandleMsg, OrderIntent, Side, Timeframe
from shared.models import BrokerAccount, LedgerEntry
from tests.api_gateway.conftest import settings_for
from tests.api_gateway.factories import Trader
from tests.api_gateway.route_walk import R, fill, owned_params, routes
from tests.order_processor.walk_orders import TradingApi, trading_api
from tests.strategy_workers.walk_subscriptions import subscription_body

A = f"{R}/analytics"
_keys = itertools.count(1)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.service)]
)
async def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TradingApi]:
    """The gateway and a running paper order engine, shared by the module, on each database."""
    settings = settings_for(request.param, request, tmp_path_factory.mktemp("analytics"))
    async with trading_api(settings) as built:
        yield built


async def filled(api: TradingApi, trader: Trader, account_id: int, side: str, qty: str) -> None:
    """A market order of SOLUSDT, filled by the next tick."""
    await api.tick("SOLUSDT", 100.0)  # a price to value it at
    r = await api.place(trader, account_id, side=side, quantity=qty)
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    for _ in range(50):
        await api.tick("SOLUSDT", 100.0 + next(_keys) % 7)
        await api.settle()
        got = await api.client.get(f"{R}/orders/{order_id}", headers=trader.headers)
        if got.json()["status"] == "FILLED":
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"order {order_id} did not fill: {got.json()}")


async def get(api: TradingApi, trader: Trader, path: str, **params: object) -> httpx.Response:
    return await api.client.get(f"{A}{path}", headers=trader.headers, params=params)


async def test_account_metrics_follow_its_fills_and_agree_with_the_account_summary(api):
    trader = await api.trader()
    account = await api.account(trader, capital="10000")
    await filled(api, trader, account, "BUY", "3")
    await filled(api, trader, account, "SELL", "3")
    await filled(api, trader, account, "BUY", "1")  # left open, marked at the last price

    r = await get(api, trader, f"/accounts/{account}/metrics")
    assert r.status_code == 200, r.text
    body = r.json()
    summary = (
        await api.client.get(f"{R}/accounts/{account}/summary", headers=trader.headers)
    ).json()
    fills = (await api.client.get(f"{R}/fills", headers=trader.headers)).json()["items"]
    assert body["scope"] == {
        "kind": "account",
        "id": account,
        "currency": "USDT",
        "calendar": "24x7",
        "broker_account_ids": [account],
        "capital": "10000",
    }
    assert Decimal(body["final_equity"]) == Decimal(summary["equity"])
    assert Decimal(body["charges"]) == sum(Decimal(f["charges"]) for f in fills)
    assert body["trades"]["count"] == 1 and body["trades"]["open_trades"] == 1
    assert body["period"]["periods_per_year"] == 365
    assert {"short_period", "few_trades"} <= set(body["flags"])
    assert body["period"]["annual_return"] is None
    assert body["last_fill_id"] == max(f["id"] for f in fills)


async def test_cash_from_fills_equals_the_starting_capital_plus_the_ledger(api):
    trader = await api.trader()
    account = await api.account(trader, capital="5000")
    await filled(api, trader, account, "BUY", "2")
    await filled(api, trader, account, "SELL", "2")
    curve = (await get(api, trader, f"/accounts/{account}/equity")).json()
    async with api.ctx.sessions() as session:
        entries = await session.scalars(
            select(LedgerEntry.amount).where(LedgerEntry.broker_account_id == account)
        )
        ledger = sum(entries, Decimal(0))
    assert len(curve["points"]) >= 3
    assert Decimal(curve["points"][-1]["cash"]) == Decimal(5000) + ledger


async def test_a_new_fill_refreshes_the_cached_report(api):
    trader = await api.trader()
    account = await api.account(trader)
    await filled(api, trader, account, "BUY", "1")
    first = (await get(api, trader, f"/accounts/{account}/metrics")).json()
    hits = api.ctx.analytics_cache.hits
    again = (await get(api, trader, f"/accounts/{account}/metrics")).json()
    assert api.ctx.analytics_cache.hits == hits + 1 and again == first

    await filled(api, trader, account, "SELL", "1")
    fresh = (await get(api, trader, f"/accounts/{account}/metrics")).json()
    assert fresh["last_fill_id"] > first["last_fill_id"]
    assert (first["trades"]["count"], fresh["trades"]["count"]) == (0, 1)


async def test_subscription_metrics_take_only_its_own_orders_on_its_allocation(api):
    trader = await api.trader()
    account = await api.account(trader, capital="100000")
    body = subscription_body(account, symbols=["SOLUSDT"], capital_allocation="2000")
    r = await api.client.post(f"{R}/subscriptions", headers=trader.headers, json=body)
    assert r.status_code == 201, r.text
    sub = r.json()["id"]
    await filled(api, trader, account, "BUY", "5")  # a manual round trip in the same account
    await filled(api, trader, account, "SELL", "5")
    for side in (Side.BUY, Side.SELL):
        intent = OrderIntent(
            client_order_id=f"sub-{sub}-{side}",
            user_id=trader.id,
            broker_account_id=account,
            symbol="SOLUSDT",
            side=side,
            quantity=Decimal(2),
            subscription_id=sub,
            created_at=api.clock.now(),
        )
        await api.engine.handle_intent(intent)
        for _ in range(20):
            await api.tick("SOLUSDT", 101.0)
            await api.settle()

    r = await get(api, trader, f"/subscriptions/{sub}/metrics")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["scope"]["kind"] == "subscription" and report["scope"]["capital"] == "2000"
    assert report["trades"]["count"] == 1 and report["trades"]["open_trades"] == 0
    best = report["trades"]["best"]
    assert best["quantity"] == "2"
    assert Decimal(report["initial_equity"]) == Decimal(2000)
    assert Decimal(report["final_equity"]) == Decimal(2000) + Decimal(best["net_pnl"])
    trades = (await get(api, trader, f"/subscriptions/{sub}/trades")).json()
    assert trades["total"] == 1 and trades["items"][0]["quantity"] == "2"


async def test_the_curve_is_marked_at_each_candle_close(api):
    trader = await api.trader()
    account = await api.account(trader, capital="10000")
    await filled(api, trader, account, "BUY", "10")
    bought = (await api.client.get(f"{R}/fills", headers=trader.headers)).json()["items"][0]
    fill_ts = datetime.fromisoformat(bought["ts"])
    ends = [fill_ts + timedelta(milliseconds=ms) for ms in (5, 10)]  # before any later tick
    await api.tickstore.write_candles(
        [
            CandleMsg(
                symbol="SOLUSDT",
                timeframe=Timeframe.M1,
                start=end - timedelta(minutes=1),
                end=end,
                open=100,
                high=130,
                low=90,
                close=close,
                volume=1,
                trades=1,
            )
            for end, close in zip(ends, (120.0, 90.0), strict=True)
        ]
    )
    await asyncio.sleep(0.06)
    r = await get(api, trader, f"/accounts/{account}/equity", timeframe="1m")
    assert r.status_code == 200, r.text
    points = {datetime.fromisoformat(p["ts"]): p for p in r.json()["points"]}
    cash = Decimal(points[fill_ts]["cash"])
    assert Decimal(points[ends[0]]["equity"]) == cash + 10 * Decimal(120)
    assert Decimal(points[ends[1]]["equity"]) == cash + 10 * Decimal(90)
    assert points[ends[1]]["drawdown"] < 0


@pytest.mark.parametrize(
    "params,code",
    [
        ({"from": "2025-06-10T10:00:00Z", "to": "2025-06-10T09:00:00Z"}, "invalid_range"),
        ({"from": "2025-06-10", "to": "2025-06-09"}, "invalid_range"),
        ({"from": "2999-01-01"}, "invalid_range"),
        ({"from": "1900-01-01"}, "invalid_range"),
        ({"from": "0.5"}, "validation_error"),
        ({"from": "2025-06-10T10:00:00"}, "validation_error"),
        ({"form": "2025-06-10"}, "validation_error"),
    ],
    ids=["to_before_from", "days_reversed", "future", "before_1970", "number", "naive", "unknown"],
)
async def test_bad_ranges_are_422_with_what_was_wrong(api, params, code):
    trader = await api.trader()
    account = await api.account(trader)
    r = await get(api, trader, f"/accounts/{account}/metrics", **params)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert r.json()["details"]


async def opened_on(api: TradingApi, account_id: int, when: datetime) -> None:
    """Date the account's opening back (as if it had been linked long ago)."""
    async with api.ctx.sessions() as session, session.begin():
        await session.execute(
            update(BrokerAccount).where(BrokerAccount.id == account_id).values(created_at=when)
        )


async def test_an_intraday_curve_over_a_long_range_is_refused(api):
    trader = await api.trader()
    account = await api.account(trader)
    await opened_on(api, account, datetime.now(UTC) - timedelta(days=60))
    r = await get(api, trader, f"/accounts/{account}/equity", timeframe="1m")
    assert r.status_code == 422 and r.json()["code"] == "range_too_long"
    week = (datetime.now(UTC) - timedelta(days=7)).isoformat()
    assert (
        await get(api, trader, f"/accounts/{account}/equity", timeframe="1m", **{"from": week})
    ).status_code == 200
    assert (await get(api, trader, f"/accounts/{account}/equity")).status_code == 200


async def test_days_are_taken_in_the_exchange_time_zone(api):
    trader = await api.trader()
    inr = await api.account(trader, currency="INR")
    usdt = await api.account(trader, currency="USDT")
    for account in (inr, usdt):
        await opened_on(api, account, datetime(2025, 1, 1, tzinfo=UTC))
    days = {"from": "2025-06-09", "to": "2025-06-13"}  # Monday to Friday
    nse = (await get(api, trader, f"/accounts/{inr}/metrics", **days)).json()
    crypto = (await get(api, trader, f"/accounts/{usdt}/metrics", **days)).json()
    assert (nse["start"], nse["end"]) == ("2025-06-08T18:30:00Z", "2025-06-13T18:30:00Z")
    assert (crypto["start"], crypto["end"]) == ("2025-06-09T00:00:00Z", "2025-06-14T00:00:00Z")
    assert [d["day"] for d in nse["daily"]] == [f"2025-06-{d:02d}" for d in range(9, 14)]
    assert (nse["scope"]["calendar"], nse["period"]["periods_per_year"]) == ("NSE", 252)
    assert (crypto["scope"]["calendar"], crypto["period"]["periods_per_year"]) == ("24x7", 365)
    weekend = {"from": "2025-06-14", "to": "2025-06-15"}
    empty = (await get(api, trader, f"/accounts/{inr}/metrics", **weekend)).json()
    assert empty["daily"] == [] and "no_returns" in empty["flags"]
    before = (await get(api, trader, f"/accounts/{inr}/metrics", to="2024-12-01")).json()
    assert before["code"] == "invalid_range" and before["details"][0]["field"] == "to"
    ahead = {"from": "2024-11-01", "to": "2024-12-01"}  # before the opening: nothing in it
    early = (await get(api, trader, f"/accounts/{inr}/metrics", **ahead)).json()
    assert early["daily"] == [] and early["final_equity"] == "0"


async def test_my_portfolio_is_per_currency_and_only_mine(api):
    owner, intruder = await api.trader(), await api.trader()
    usdt = await api.account(owner, capital="1000", currency="USDT")
    await api.account(owner, capital="500", currency="INR")
    r = await get(api, owner, "/me/metrics")
    assert r.status_code == 422 and r.json()["code"] == "currency_required"
    mine = (await get(api, owner, "/me/metrics", currency="USDT")).json()
    assert mine["scope"]["broker_account_ids"] == [usdt] and mine["scope"]["capital"] == "1000"
    theirs = (await get(api, intruder, "/me/metrics", currency="USDT")).json()
    assert theirs["scope"]["broker_account_ids"] == [] and theirs["daily"] == []
    curve = await get(api, intruder, "/me/equity", currency="USDT")
    assert curve.status_code == 200 and curve.json()["points"] == []


async def test_every_analytics_route_is_404_with_another_users_ids(api):
    owner, intruder = await api.trader(), await api.trader()
    checked = 0
    for method, template in routes(api.app):
        if not template.startswith(A) or not owned_params(template):
            continue
        path = await fill(api.client, template, owner)
        assert (await api.client.request(method, path, headers=owner.headers)).status_code == 200
        r = await api.client.request(method, path, headers=intruder.headers)
        assert r.status_code == 404, f"{method} {template}: {r.status_code}"
        checked += 1
    assert checked == 6
