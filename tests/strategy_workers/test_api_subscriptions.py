"""REST: the strategy catalog, subscriptions (validation, tenancy, pause/resume/delete, control
events after commit) and the signals list."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from algotrade.migrate import upgrade
from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from shared.bus import InProcessEventBus, Subscription
from shared.contracts import CHANNEL_CONTROL, ControlEvent
from shared.models import SignalRecord
from tests.api_gateway.conftest import Api, settings_for
from tests.api_gateway.factories import Trader
from tests.api_gateway.route_walk import R, fill, owned_params, routes
from tests.strategy_workers.walk_subscriptions import subscription_body

from .walk_subscriptions import BODIES, PARAM_FACTORIES

_labels = itertools.count(1)


async def _build(settings) -> AsyncIterator[Api]:
    await asyncio.to_thread(upgrade, settings.migration_url)
    ctx = GatewayContext.build(settings, bus=InProcessEventBus())
    app = create_app(ctx)  # the strategies router is part of the gateway
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Api(app, ctx, client)
    await ctx.engine.dispose()


@pytest.fixture(params=["sqlite", "postgres", "pgbouncer"])
async def any_api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    if request.param != "sqlite":
        request.applymarker(pytest.mark.service)
    async for api in _build(settings_for(request.param, request, tmp_path)):
        yield api


@pytest.fixture(scope="module")
async def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """One SQLite-backed app for the module; each test makes its own traders."""
    tmp = tmp_path_factory.mktemp("api")
    async for built in _build(settings_for("sqlite", request, tmp)):
        yield built


async def account_of(api: Api, trader: Trader, **body: Any) -> int:
    r = await api.client.post(
        f"{R}/broker-accounts",
        headers=trader.headers,
        json={"label": f"acct-{next(_labels)}", **body},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def subscribe(api: Api, trader: Trader, **overrides: Any) -> httpx.Response:
    account_id = overrides.pop("broker_account_id", None) or await account_of(api, trader)
    return await api.client.post(
        f"{R}/subscriptions",
        headers=trader.headers,
        json=subscription_body(account_id, **overrides),
    )


def fields(r: httpx.Response) -> list[str]:
    return [d["field"] for d in r.json()["details"]]


async def control_events(api: Api) -> Subscription:
    bus = api.ctx.bus
    assert bus is not None
    return await bus.subscribe([CHANNEL_CONTROL])


# -- catalog -------------------------------------------------------------------------------


async def test_catalog_lists_strategies_with_parameter_and_sizing_schemas(api):
    trader = await api.trader()

    r = await api.client.get(f"{R}/strategies", headers=trader.headers)

    assert r.status_code == 200
    body = r.json()
    by_name = {s["name"]: s for s in body["items"]}
    assert by_name["ma_crossover"]["params_schema"]["properties"]["fast"]["type"] == "integer"
    assert by_name["ma_crossover"]["defaults"]["slow"] == 30
    assert set(body["sizing_schemas"]) == {
        "fixed_fractional",
        "fixed_quantity",
        "kelly",
        "volatility",
    }


# -- create and validate -------------------------------------------------------------------


async def test_create_subscription_stores_validated_settings(any_api):
    trader = await any_api.trader()

    r = await subscribe(any_api, trader)

    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "active" and body["symbols"] == ["INFY", "TCS"]
    assert body["params"]["fast"] == 5 and body["params"]["ma_type"] == "sma"  # defaults filled
    assert Decimal(body["capital_allocation"]) == Decimal("25000")
    listing = await any_api.client.get(f"{R}/subscriptions", headers=trader.headers)
    assert [s["id"] for s in listing.json()["items"]] == [body["id"]]


async def test_bad_strategy_parameter_is_422_naming_the_field(api):
    trader = await api.trader()

    r = await subscribe(api, trader, params={"fast": 1})

    assert r.status_code == 422
    assert fields(r) == ["params.fast"]


async def test_cross_field_rule_names_the_field_that_breaks_it(api):
    trader = await api.trader()

    r = await subscribe(api, trader, params={"fast": 20, "slow": 10})

    assert r.status_code == 422 and fields(r) == ["params.slow"]


async def test_unknown_strategy_is_422_naming_strategy(api):
    trader = await api.trader()

    r = await subscribe(api, trader, strategy="no_such_strategy", params={})

    assert r.status_code == 422 and fields(r) == ["strategy"]


async def test_unknown_symbol_is_422_naming_its_position(api):
    trader = await api.trader()

    r = await subscribe(api, trader, symbols=["INFY", "NOPE"])

    assert r.status_code == 422 and fields(r) == ["symbols.1"]


async def test_symbol_in_another_currency_than_the_account_is_422_naming_both(api):
    trader = await api.trader()
    account = await account_of(api, trader, currency="INR")

    r = await subscribe(api, trader, broker_account_id=account, symbols=["INFY", "BTCUSDT"])

    assert r.status_code == 422 and fields(r) == ["symbols.1"]
    message = r.json()["details"][0]["message"]
    assert "INR" in message and "USDT" in message


async def test_bad_sizing_parameter_is_422_naming_the_field(api):
    trader = await api.trader()

    r = await subscribe(api, trader, sizing_params={"risk_fraction": "0.9"})

    assert r.status_code == 422 and fields(r) == ["sizing_params.risk_fraction"]


async def test_every_wrong_field_is_reported_at_once(api):
    trader = await api.trader()

    r = await subscribe(
        api, trader, params={"fast": 1}, symbols=["NOPE"], sizing_method="martingale"
    )

    assert r.status_code == 422
    assert sorted(fields(r)) == ["params.fast", "sizing_method", "symbols.0"]


@pytest.mark.parametrize("capital", ["0", "-5"])
async def test_capital_allocation_must_be_positive(api, capital):
    trader = await api.trader()

    r = await subscribe(api, trader, capital_allocation=capital)

    assert r.status_code == 422 and fields(r) == ["capital_allocation"]


async def test_live_mode_on_a_paper_account_is_422(api):
    trader = await api.trader()

    r = await subscribe(api, trader, mode="live")

    assert r.status_code == 422 and fields(r) == ["mode"]


async def test_another_users_broker_account_is_404(api):
    owner, intruder = await api.trader(), await api.trader()
    owners_account = await account_of(api, owner)

    r = await subscribe(api, intruder, broker_account_id=owners_account)

    assert r.status_code == 404


async def test_status_cannot_be_set_through_the_body(api):
    trader = await api.trader()

    r = await subscribe(api, trader, status="paused")

    assert r.status_code == 422 and fields(r) == ["status"]


# -- change, pause, resume, delete ---------------------------------------------------------


async def test_patch_changes_parameters_and_keeps_the_rest(api):
    trader = await api.trader()
    created = (await subscribe(api, trader)).json()

    r = await api.client.patch(
        f"{R}/subscriptions/{created['id']}", headers=trader.headers, json={"params": {"fast": 7}}
    )

    assert r.status_code == 200, r.text
    assert r.json()["params"]["fast"] == 7 and r.json()["symbols"] == created["symbols"]


async def test_invalid_patch_is_422_and_changes_nothing(api):
    trader = await api.trader()
    created = (await subscribe(api, trader)).json()
    url = f"{R}/subscriptions/{created['id']}"

    r = await api.client.patch(url, headers=trader.headers, json={"params": {"slow": 2}})

    assert r.status_code == 422 and fields(r) == ["params.slow"]
    assert (await api.client.get(url, headers=trader.headers)).json()["params"] == created["params"]


async def test_patch_to_another_strategy_starts_from_its_defaults(api):
    trader = await api.trader()
    created = (await subscribe(api, trader)).json()

    r = await api.client.patch(
        f"{R}/subscriptions/{created['id']}",
        headers=trader.headers,
        json={"strategy": "rsi_mean_reversion"},
    )

    assert r.status_code == 200, r.text
    assert r.json()["params"]["period"] == 14


async def test_pause_then_resume(api):
    trader = await api.trader()
    sub_id = (await subscribe(api, trader)).json()["id"]

    paused = await api.client.post(f"{R}/subscriptions/{sub_id}/pause", headers=trader.headers)
    resumed = await api.client.post(f"{R}/subscriptions/{sub_id}/resume", headers=trader.headers)

    assert (paused.status_code, paused.json()["status"]) == (200, "paused")
    assert (resumed.status_code, resumed.json()["status"]) == (200, "active")


async def test_paused_filter_lists_only_paused_subscriptions(api):
    trader = await api.trader()
    first = (await subscribe(api, trader)).json()["id"]
    await subscribe(api, trader)
    await api.client.post(f"{R}/subscriptions/{first}/pause", headers=trader.headers)

    r = await api.client.get(f"{R}/subscriptions?status=paused", headers=trader.headers)

    assert [s["id"] for s in r.json()["items"]] == [first]


async def test_delete_removes_the_subscription(api):
    trader = await api.trader()
    sub_id = (await subscribe(api, trader)).json()["id"]

    r = await api.client.delete(f"{R}/subscriptions/{sub_id}", headers=trader.headers)

    assert r.status_code == 204
    gone = await api.client.get(f"{R}/subscriptions/{sub_id}", headers=trader.headers)
    assert gone.status_code == 404


# -- control events ------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["create", "patch", "pause", "resume", "delete"])
async def test_every_change_publishes_a_control_event_after_commit(api, action):
    trader = await api.trader()
    sub_id = (await subscribe(api, trader)).json()["id"]
    url = f"{R}/subscriptions/{sub_id}"
    if action == "resume":
        await api.client.post(f"{url}/pause", headers=trader.headers)
    events = await control_events(api)
    requests = {
        "create": lambda: subscribe(api, trader),
        "patch": lambda: api.client.patch(url, headers=trader.headers, json={"name": "x"}),
        "pause": lambda: api.client.post(f"{url}/pause", headers=trader.headers),
        "resume": lambda: api.client.post(f"{url}/resume", headers=trader.headers),
        "delete": lambda: api.client.delete(url, headers=trader.headers),
    }

    r = await requests[action]()

    got = await events.get(1.0)
    assert r.status_code < 300
    assert got is not None and isinstance(got[1], ControlEvent)
    event = got[1]
    expected_id = r.json()["id"] if action == "create" else sub_id
    assert (event.action, event.user_id, event.subscription_id) == (
        "subscription_changed",
        trader.id,
        expected_id,
    )


async def test_rejected_change_publishes_nothing(api):
    trader = await api.trader()
    sub_id = (await subscribe(api, trader)).json()["id"]
    events = await control_events(api)

    r = await api.client.patch(
        f"{R}/subscriptions/{sub_id}", headers=trader.headers, json={"params": {"fast": 1}}
    )

    assert r.status_code == 422
    assert await events.get(0.1) is None


# -- signals -------------------------------------------------------------------------------


async def test_signals_are_listed_per_user_with_filters(any_api):
    owner, other = await any_api.trader(), await any_api.trader()
    first = (await subscribe(any_api, owner)).json()["id"]
    second = (await subscribe(any_api, owner, symbols=["TCS"])).json()["id"]
    others = (await subscribe(any_api, other)).json()["id"]
    await _signals(
        any_api, [(owner, first, "INFY"), (owner, second, "TCS"), (other, others, "INFY")]
    )

    everything = await any_api.client.get(f"{R}/signals", headers=owner.headers)
    by_sub = await any_api.client.get(
        f"{R}/signals?subscription_id={second}", headers=owner.headers
    )
    by_symbol = await any_api.client.get(f"{R}/signals?symbol=infy", headers=owner.headers)

    assert everything.json()["total"] == 2
    assert [s["subscription_id"] for s in by_sub.json()["items"]] == [second]
    assert [s["subscription_id"] for s in by_symbol.json()["items"]] == [first]


async def test_another_users_subscription_filter_shows_nothing(api):
    owner, intruder = await api.trader(), await api.trader()
    sub_id = (await subscribe(api, owner)).json()["id"]
    await _signals(api, [(owner, sub_id, "INFY")])

    r = await api.client.get(f"{R}/signals?subscription_id={sub_id}", headers=intruder.headers)

    assert r.status_code == 200 and r.json()["items"] == []


# -- tenancy over the route table ----------------------------------------------------------


async def test_second_trader_gets_404_on_every_subscription_route(api):
    owner, intruder = await api.trader(), await api.trader()
    checked = 0
    for method, template in routes(api.app):
        if "subscription_id" not in owned_params(template):
            continue
        path = await fill(api.client, template, owner)
        r = await api.client.request(
            method, path, headers=intruder.headers, json=BODIES.get((method, template))
        )
        assert r.status_code == 404, f"{method} {template} as another trader: {r.status_code}"
        checked += 1
    # get, patch, delete, pause, resume; its metrics, equity curve and trades
    assert checked == 8
    assert "subscription_id" in PARAM_FACTORIES


async def test_every_strategy_route_is_401_without_a_token(api):
    owner = await api.trader()
    mine = [
        (m, t)
        for m, t in routes(api.app)
        if t.startswith((f"{R}/strategies", f"{R}/subscriptions", f"{R}/signals"))
    ]
    for method, template in mine:
        path = await fill(api.client, template, owner)
        r = await api.client.request(method, path, json=BODIES.get((method, template)))
        assert r.status_code == 401, f"{method} {template} anonymous: {r.status_code}"
    assert len(mine) == 9


async def _signals(api: Api, rows: list[tuple[Trader, int, str]]) -> None:
    end = datetime(2024, 1, 1, 4, 0, tzinfo=UTC)
    async with api.ctx.sessions() as s, s.begin():
        for i, (trader, sub_id, symbol) in enumerate(rows):
            s.add(
                SignalRecord(
                    signal_id=f"sig{i}-{sub_id}",
                    user_id=trader.id,
                    subscription_id=sub_id,
                    strategy="ma_crossover",
                    symbol=symbol,
                    timeframe="5m",
                    candle_end=end + timedelta(minutes=5 * i),
                    action="BUY",
                    confidence=0.7,
                    price=100.0,
                    reason="test",
                )
            )
