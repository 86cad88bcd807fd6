"""REST /alerts, /notification-channels, /price-alerts: history with paging and filters, read
marks, statistics; channels saved, refused (outbound rules), tested; price alerts CRUD; strict
bodies and 4xx in the platform's error shape."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics_service.alerts.channels import verify_signature
from analytics_service.alerts.delivery import DeliveryWorker
from analytics_service.alerts.rules import AlertDraft
from analytics_service.alerts.service import AlertsService
from analytics_service.api import record_alerts
from shared.alerts import AlertKind, Severity
from shared.db import transaction
from tests.analytics_service.alerts_channels.receiver import Receiver, Reply
from tests.api_gateway.conftest import Api, build_api, settings_for
from tests.api_gateway.factories import Trader
from tests.api_gateway.route_walk import R

NOW = datetime(2026, 12, 4, 9, 20, tzinfo=UTC)
LIMITS = {
    "alerts_allow_loopback": True,
    "alerts_http_read_timeout_seconds": 2.0,
    "alerts_max_price_alerts_per_user": 3,
    "alerts_max_channels_per_user": 4,
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.service)])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """The gateway (SQLite or PostgreSQL) with loopback receivers allowed (the test setting)."""
    async for built in build_api(settings_for(request.param, request, tmp_path, **LIMITS)):
        yield built


@pytest.fixture
async def default_api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """The gateway with the default outbound rules (loopback refused)."""
    async for built in build_api(settings_for("sqlite", request, tmp_path)):
        yield built


async def raise_alerts(api: Api, user_id: int, specs: list[tuple[AlertKind, Severity]]) -> None:
    drafts = [
        AlertDraft(user_id, kind, severity, f"{kind} {i}", "body", f"t:{uuid.uuid4().hex}", {})
        for i, (kind, severity) in enumerate(specs)
    ]
    async with transaction(api.ctx.sessions) as session:
        await record_alerts(session, drafts, NOW)


def assert_error(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"code", "message", "details"}
    if code is not None:
        assert body["code"] == code, body
    return body


SPECS = [
    (AlertKind.ORDER_FILLED, Severity.INFO),
    (AlertKind.ORDER_FILLED, Severity.INFO),
    (AlertKind.ORDER_DENIED, Severity.WARNING),
    (AlertKind.KILL_SWITCH, Severity.CRITICAL),
    (AlertKind.PRICE_ALERT, Severity.WARNING),
]


# -- history ---------------------------------------------------------------------------


async def test_history_pages_newest_first_and_filters_by_severity_kind_and_read(api):
    trader = await api.trader()
    await raise_alerts(api, trader.id, SPECS)
    h = trader.headers

    page = (await api.client.get(f"{R}/alerts", headers=h, params={"limit": 2})).json()
    assert page["total"] == 5 and page["limit"] == 2 and len(page["items"]) == 2
    assert [a["title"] for a in page["items"]] == ["price_alert 4", "kill_switch 3"]
    rest = (await api.client.get(f"{R}/alerts", headers=h, params={"offset": 2})).json()
    assert [a["title"] for a in rest["items"]] == [
        "order_denied 2",
        "order_filled 1",
        "order_filled 0",
    ]

    warn = (await api.client.get(f"{R}/alerts", headers=h, params={"severity": "WARNING"})).json()
    assert {a["kind"] for a in warn["items"]} == {"order_denied", "price_alert"}
    fills = (await api.client.get(f"{R}/alerts", headers=h, params={"kind": "order_filled"})).json()
    assert fills["total"] == 2

    first = page["items"][0]["id"]
    r = await api.client.post(f"{R}/alerts/{first}/read", headers=h)
    assert r.status_code == 200 and r.json()["read"] is True and r.json()["read_at"]
    read = (await api.client.get(f"{R}/alerts", headers=h, params={"read": "true"})).json()
    unread = (await api.client.get(f"{R}/alerts", headers=h, params={"read": "false"})).json()
    assert [a["id"] for a in read["items"]] == [first]
    assert unread["total"] == 4


async def test_marking_read_twice_keeps_the_first_time_and_read_all_counts_the_unread(api):
    trader = await api.trader()
    await raise_alerts(api, trader.id, SPECS)
    h = trader.headers
    first = (await api.client.get(f"{R}/alerts", headers=h)).json()["items"][0]["id"]
    once = (await api.client.post(f"{R}/alerts/{first}/read", headers=h)).json()
    twice = (await api.client.post(f"{R}/alerts/{first}/read", headers=h)).json()
    assert once["read_at"] == twice["read_at"]

    r = await api.client.post(f"{R}/alerts/read-all", headers=h)
    assert r.status_code == 200 and r.json() == {"marked": 4}
    again = await api.client.post(f"{R}/alerts/read-all", headers=h)
    assert again.json() == {"marked": 0}


async def test_stats_count_by_kind_and_severity_and_unread(api):
    trader, other = await api.trader(), await api.trader()
    await raise_alerts(api, trader.id, SPECS)
    await raise_alerts(api, other.id, [(AlertKind.ORDER_REJECTED, Severity.ERROR)])
    first = (await api.client.get(f"{R}/alerts", headers=trader.headers)).json()["items"][0]
    await api.client.post(f"{R}/alerts/{first['id']}/read", headers=trader.headers)

    stats = (await api.client.get(f"{R}/alerts/stats", headers=trader.headers)).json()
    assert stats == {
        "total": 5,
        "unread": 4,
        "by_kind": {"order_filled": 2, "order_denied": 1, "kill_switch": 1, "price_alert": 1},
        "by_severity": {"INFO": 2, "WARNING": 2, "ERROR": 0, "CRITICAL": 1},
        "unread_by_severity": {"INFO": 2, "WARNING": 1, "ERROR": 0, "CRITICAL": 1},
    }


async def test_bad_history_queries_and_ids_are_4xx_in_the_error_shape(api):
    trader = await api.trader()
    h = trader.headers
    for params in ({"severity": "LOUD"}, {"kind": "nope"}, {"read": "maybe"}, {"limit": 0}):
        assert_error(await api.client.get(f"{R}/alerts", headers=h, params=params), 422)
    assert_error(await api.client.get(f"{R}/alerts/not-a-uuid", headers=h), 422)
    assert_error(await api.client.get(f"{R}/alerts/{uuid.uuid4()}", headers=h), 404, "not_found")
    assert_error(await api.client.post(f"{R}/alerts/{uuid.uuid4()}/read", headers=h), 404)


# -- notification channels -------------------------------------------------------------


async def test_webhook_to_a_local_receiver_is_refused_when_saved_with_the_default_settings(
    default_api,
):
    trader = await default_api.trader()
    async with Receiver() as receiver:
        for url in (receiver.url("/hook"), "https://127.0.0.1/hook", "https://10.0.0.7/hook"):
            body = {"kind": "webhook", "config": {"url": url}}
            r = await default_api.client.post(
                f"{R}/notification-channels", headers=trader.headers, json=body
            )
            error = assert_error(r, 422, "invalid_channel_config")
            assert error["details"][0]["field"] == "config.url"
        assert receiver.requests == []
    listing = await default_api.client.get(f"{R}/notification-channels", headers=trader.headers)
    assert listing.json()["items"] == []


async def test_webhook_saved_shows_its_secret_once_and_its_test_arrives_signed(api):
    trader = await api.trader()
    h = trader.headers
    async with Receiver() as receiver:
        r = await api.client.post(
            f"{R}/notification-channels",
            headers=h,
            json={
                "kind": "webhook",
                "name": "desk",
                "severities": ["CRITICAL", "WARNING"],
                "kinds": ["order_filled", "kill_switch", "order_filled"],
                "config": {"url": receiver.url("/hook")},
            },
        )
        assert r.status_code == 201, r.text
        created = r.json()
        secret = created["revealed"]["secret"]
        assert secret.startswith("whsec_")
        assert created["config"] == {"url": receiver.url("/hook")}
        assert created["secrets_set"] == ["secret"]
        assert created["kinds"] == ["order_filled", "kill_switch"]
        assert created["severities"] == ["WARNING", "CRITICAL"]

        read = await api.client.get(f"{R}/notification-channels/{created['id']}", headers=h)
        assert read.json()["revealed"] == {} and secret not in read.text

        test = await api.client.post(f"{R}/notification-channels/{created['id']}/test", headers=h)
        assert test.status_code == 200, test.text
        assert test.json()["status"] == "sent" and test.json()["error"] is None

    got = receiver.requests[0]
    assert verify_signature(
        secret, got.body, got.headers["x-algotrade-timestamp"], got.headers["x-algotrade-signature"]
    )
    assert got.json()["alert_id"] == test.json()["alert_id"]
    alert = (await api.client.get(f"{R}/alerts/{test.json()['alert_id']}", headers=h)).json()
    assert alert["kind"] == "test"
    assert [(d["channel_id"], d["status"]) for d in alert["deliveries"]] == [
        (created["id"], "sent")
    ]


async def test_a_refused_test_answers_failed_and_the_history_keeps_the_last_error(api):
    trader = await api.trader()
    h = trader.headers
    async with Receiver(lambda _: Reply(404, b"no such hook")) as receiver:
        created = (
            await api.client.post(
                f"{R}/notification-channels",
                headers=h,
                json={"kind": "webhook", "config": {"url": receiver.url("/gone")}},
            )
        ).json()
        test = (
            await api.client.post(f"{R}/notification-channels/{created['id']}/test", headers=h)
        ).json()
    assert test["status"] == "failed" and "404" in test["error"]
    alert = (await api.client.get(f"{R}/alerts/{test['alert_id']}", headers=h)).json()
    delivery = alert["deliveries"][0]
    assert delivery["status"] == "failed" and "404" in delivery["last_error"]
    assert delivery["attempts"] == 1


async def test_channel_update_keeps_secrets_left_out_and_refuses_a_new_kind(api):
    trader = await api.trader()
    h = trader.headers
    body = {
        "kind": "telegram",
        "config": {"bot_token": "123456:" + "A" * 35, "chat_id": -1001234567890},
    }
    created = (await api.client.post(f"{R}/notification-channels", headers=h, json=body)).json()
    assert created["config"] == {"chat_id": -1001234567890}
    assert created["secrets_set"] == ["bot_token"]
    path = f"{R}/notification-channels/{created['id']}"

    r = await api.client.patch(
        path, headers=h, json={"enabled": False, "config": {"chat_id": "@alerts_desk"}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is False
    assert r.json()["config"] == {"chat_id": "@alerts_desk"}
    assert r.json()["secrets_set"] == ["bot_token"]  # kept although not sent again

    assert_error(await api.client.patch(path, headers=h, json={"kind": "slack"}), 422)
    bad = await api.client.patch(path, headers=h, json={"config": {"chat_id": "not a chat"}})
    assert assert_error(bad, 422, "invalid_channel_config")["details"][0]["field"] == (
        "config.chat_id"
    )
    assert (await api.client.delete(path, headers=h)).status_code == 204
    assert_error(await api.client.get(path, headers=h), 404)


async def test_channel_bodies_are_strict(api):
    trader = await api.trader()
    h = trader.headers
    bad_bodies = [
        {"kind": "websocket", "enabled": 1},
        {"kind": "websocket", "user_id": 99},
        {"kind": "carrier_pigeon"},
        {"kind": "websocket", "min_severity": "WARNING"},
        {"kind": "websocket", "severities": ["LOUD"]},
        {"kind": "websocket", "severities": []},
        {"kind": "websocket", "severities": ["INFO", "INFO"]},
        {"kind": "websocket", "severities": "CRITICAL"},
        {"kind": "websocket", "severities": None},
        {"kind": "websocket", "severities": ["critical"]},
        {"kind": "websocket", "severities": ["INFO", "WARNING", "ERROR", "CRITICAL", "INFO"]},
        {"kind": "websocket", "kinds": ["nope"]},
        {"kind": "websocket", "name": ""},
        {"kind": "websocket", "config": {"x": 1}},
        {"kind": "webhook", "config": {"url": "https://example.com", "extra": "x"}},
        {"kind": "email", "config": {"host": "mail.example.com"}},
        {"kind": "webhook", "config": {f"f{i}": "x" for i in range(30)}},
        {"kind": 5},
        [],
    ]
    for body in bad_bodies:
        r = await api.client.post(f"{R}/notification-channels", headers=h, json=body)
        assert_error(r, 422)
    assert (await api.client.get(f"{R}/notification-channels", headers=h)).json()["items"] == []


async def test_channel_severities_default_to_all_and_change_only_to_a_valid_set(api):
    trader = await api.trader()
    h = trader.headers
    created = await api.client.post(
        f"{R}/notification-channels", headers=h, json={"kind": "websocket"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["severities"] == ["INFO", "WARNING", "ERROR", "CRITICAL"]
    path = f"{R}/notification-channels/{created.json()['id']}"

    r = await api.client.patch(path, headers=h, json={"severities": ["CRITICAL", "INFO"]})
    assert r.status_code == 200, r.text
    assert r.json()["severities"] == ["INFO", "CRITICAL"]
    for bad in ([], ["INFO", "INFO"], ["LOUD"], "INFO", ["ERROR", 3]):
        assert_error(await api.client.patch(path, headers=h, json={"severities": bad}), 422)
    kept = await api.client.patch(path, headers=h, json={"enabled": False})
    assert kept.json()["severities"] == ["INFO", "CRITICAL"]  # left out: kept


async def test_websocket_is_on_by_default_until_a_websocket_channel_is_saved(api):
    trader = await api.trader()
    h = trader.headers
    listing = (await api.client.get(f"{R}/notification-channels", headers=h)).json()
    assert listing == {"items": [], "websocket_default": True}
    r = await api.client.post(
        f"{R}/notification-channels", headers=h, json={"kind": "websocket", "enabled": False}
    )
    assert r.status_code == 201, r.text
    listing = (await api.client.get(f"{R}/notification-channels", headers=h)).json()
    assert listing["websocket_default"] is False and listing["items"][0]["enabled"] is False


async def test_too_many_channels_is_409(api):
    trader = await api.trader()
    for _ in range(LIMITS["alerts_max_channels_per_user"]):
        r = await api.client.post(
            f"{R}/notification-channels", headers=trader.headers, json={"kind": "websocket"}
        )
        assert r.status_code == 201
    r = await api.client.post(
        f"{R}/notification-channels", headers=trader.headers, json={"kind": "websocket"}
    )
    assert_error(r, 409, "too_many_channels")


# -- price alerts ----------------------------------------------------------------------


async def create_price_alert(api: Api, trader: Trader, **body: object) -> dict:
    r = await api.client.post(f"{R}/price-alerts", headers=trader.headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_price_alerts_are_created_read_listed_changed_and_deleted(api):
    trader = await api.trader()
    h = trader.headers
    cross = await create_price_alert(
        api, trader, symbol="reliance", condition="crosses_above", price="3000.50", note="break"
    )
    assert cross["symbol"] == "RELIANCE" and cross["price"] == "3000.5"
    assert cross["repeat"] == "once" and cross["active"] is True and cross["trigger_count"] == 0
    move = await create_price_alert(
        api,
        trader,
        symbol="INFY",
        condition="moves_pct",
        percent=2.5,
        window_minutes=15,
        repeat="repeating",
        active=False,
    )
    assert move["percent"] == "2.5" and move["window_minutes"] == 15 and move["price"] is None

    listing = (await api.client.get(f"{R}/price-alerts", headers=h)).json()
    assert [p["id"] for p in listing["items"]] == [move["id"], cross["id"]]
    active = await api.client.get(f"{R}/price-alerts", headers=h, params={"active": "true"})
    assert [p["id"] for p in active.json()["items"]] == [cross["id"]]

    path = f"{R}/price-alerts/{cross['id']}"
    switched = await api.client.patch(
        path, headers=h, json={"condition": "moves_pct", "percent": "1", "window_minutes": 5}
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["price"] is None and switched.json()["percent"] == "1"
    back = await api.client.patch(path, headers=h, json={"condition": "crosses_below"})
    assert_error(back, 422)  # a crossing needs its price
    priced = await api.client.patch(
        path, headers=h, json={"condition": "crosses_below", "price": "2800"}
    )
    assert priced.json()["condition"] == "crosses_below"
    assert priced.json()["percent"] is None and priced.json()["window_minutes"] is None
    assert (await api.client.get(path, headers=h)).json()["price"] == "2800"

    assert (await api.client.delete(path, headers=h)).status_code == 204
    assert_error(await api.client.get(path, headers=h), 404, "not_found")


async def test_price_alert_bodies_are_strict_and_terms_match_the_condition(api):
    trader = await api.trader()
    bad = [
        {"symbol": "RELIANCE", "condition": "crosses_above"},
        {"symbol": "RELIANCE", "condition": "crosses_above", "price": "0"},
        {"symbol": "RELIANCE", "condition": "crosses_above", "price": "-5"},
        {"symbol": "RELIANCE", "condition": "crosses_above", "price": True},
        {"symbol": "RELIANCE", "condition": "crosses_above", "price": "NaN"},
        {"symbol": "RELIANCE", "condition": "crosses_above", "price": "1e30"},
        {"symbol": "RELIANCE", "condition": "crosses_above", "price": "1", "percent": "2"},
        {"symbol": "RELIANCE", "condition": "moves_pct", "percent": "2"},
        {"symbol": "RELIANCE", "condition": "moves_pct", "percent": "101", "window_minutes": 5},
        {"symbol": "RELIANCE", "condition": "moves_pct", "percent": "2", "window_minutes": 0},
        {"symbol": "RELIANCE", "condition": "moves_pct", "percent": "2", "window_minutes": "5"},
        {
            "symbol": "RELIANCE",
            "condition": "moves_pct",
            "percent": "2",
            "window_minutes": 5,
            "price": "1",
        },
        {"symbol": "RELIANCE", "condition": "jumps", "price": "1"},
        {"symbol": "RELIANCE", "condition": "crosses_above", "price": "1", "repeat": "twice"},
        {"symbol": "RELIANCE", "condition": "crosses_above", "price": "1", "user_id": 1},
        {"symbol": 7, "condition": "crosses_above", "price": "1"},
        {"symbol": "RELIANCE", "condition": "crosses_above", "price": "1", "active": "yes"},
        {"symbol": "RELIANCE", "condition": "crosses_above", "price": "1", "note": "x" * 201},
    ]
    for body in bad:
        r = await api.client.post(f"{R}/price-alerts", headers=trader.headers, json=body)
        assert_error(r, 422)
    unknown = {"symbol": "NOSUCHCO", "condition": "crosses_above", "price": "1"}
    r = await api.client.post(f"{R}/price-alerts", headers=trader.headers, json=unknown)
    assert_error(r, 422, "unknown_symbol")
    listing = await api.client.get(f"{R}/price-alerts", headers=trader.headers)
    assert listing.json()["total"] == 0


async def test_active_price_alerts_are_limited_and_re_arming_counts(api):
    trader = await api.trader()
    limit = LIMITS["alerts_max_price_alerts_per_user"]
    body = {"symbol": "TCS", "condition": "crosses_below", "price": "3500"}
    for _ in range(limit):
        await create_price_alert(api, trader, **body)
    r = await api.client.post(f"{R}/price-alerts", headers=trader.headers, json=body)
    assert_error(r, 409, "too_many_price_alerts")
    spare = await create_price_alert(api, trader, **body, active=False)
    r = await api.client.patch(
        f"{R}/price-alerts/{spare['id']}", headers=trader.headers, json={"active": True}
    )
    assert_error(r, 409, "too_many_price_alerts")


async def test_another_traders_alerts_channels_and_price_alerts_are_not_found(api):
    owner, intruder = await api.trader(), await api.trader()
    await raise_alerts(api, owner.id, SPECS)
    alert = (await api.client.get(f"{R}/alerts", headers=owner.headers)).json()["items"][0]
    channel = (
        await api.client.post(
            f"{R}/notification-channels", headers=owner.headers, json={"kind": "websocket"}
        )
    ).json()
    price = await create_price_alert(
        api, owner, symbol="INFY", condition="crosses_above", price="2000"
    )
    h = intruder.headers
    assert_error(await api.client.post(f"{R}/alerts/{alert['id']}/read", headers=h), 404)
    assert_error(
        await api.client.post(f"{R}/notification-channels/{channel['id']}/test", headers=h), 404
    )
    assert_error(await api.client.delete(f"{R}/price-alerts/{price['id']}", headers=h), 404)
    # the intruder's read-all and stats never touch the owner's history
    assert (await api.client.post(f"{R}/alerts/read-all", headers=h)).json() == {"marked": 0}
    assert (await api.client.get(f"{R}/alerts/stats", headers=h)).json()["total"] == 0
    owner_stats = (await api.client.get(f"{R}/alerts/stats", headers=owner.headers)).json()
    assert owner_stats["unread"] == 5


async def test_a_test_being_sent_is_not_sent_again_by_the_delivery_loop(api):
    trader = await api.trader()
    async with Receiver() as receiver:
        created = (
            await api.client.post(
                f"{R}/notification-channels",
                headers=trader.headers,
                json={"kind": "webhook", "config": {"url": receiver.url("/hook")}},
            )
        ).json()
        settings, now = api.ctx.settings, api.ctx.clock.now()
        async with transaction(api.ctx.sessions) as session:
            prepared = await AlertsService(
                session, trader.id, settings=settings, now=now
            ).prepare_test(created["id"])
        loop = DeliveryWorker(api.ctx.sessions, settings, api.ctx.clock)
        assert (await loop.run_once()).handled == 0  # held for the request that sends it
        async with transaction(api.ctx.sessions) as session:
            sent = await AlertsService(session, trader.id, settings=settings, now=now).send_test(
                prepared
            )
        assert sent.status == "sent"
        assert (await loop.run_once()).handled == 0
    assert len(receiver.requests) == 1
