"""Request ids, JSON logs that follow an order from the request to the order processor, and
the metrics a scrape shows after a request and an order."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.logs import log_handler
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import R, trading_api


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Every log line of the process, as the JSON format writes it."""
    out = io.StringIO()
    handler = log_handler("json")
    handler.stream = out
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
async def api(request, tmp_path):
    async with trading_api(settings_for("sqlite", request, tmp_path)) as api:
        yield api


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def test_request_id_is_answered_and_made_when_missing(api):
    given = await api.client.get("/health", headers={"X-Request-ID": "probe-42"})
    made = await api.client.get("/health")

    assert given.headers["x-request-id"] == "probe-42"
    assert len(made.headers["x-request-id"]) == 32
    unusable = await api.client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert unusable.headers["x-request-id"] != "bad id\twith spaces"


async def test_correlation_id_follows_an_order_from_the_request_to_the_order_processor(
    api, json_lines
):
    trader = await api.trader()
    account = await api.account(trader)
    await api.tick("SOLUSDT", 150.0)

    placed = await api.client.post(
        f"{R}/orders",
        headers={**trader.headers, "X-Request-ID": "order-req-7"},
        json={"broker_account_id": account, "symbol": "SOLUSDT", "side": "BUY", "quantity": "1"},
    )
    await api.tick("SOLUSDT", 151.0)
    await api.settle()

    assert placed.status_code == 201, placed.text
    assert placed.headers["x-request-id"] == "order-req-7"
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    handled = [
        line
        for line in lines
        if line["logger"] == "order_processor.consumer" and line["message"].endswith("handled")
    ]
    assert handled, lines
    assert {line.get("correlation_id") for line in handled} == {"order-req-7"}
    assert handled[0]["user_id"] == trader.id
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)


async def test_metrics_count_requests_by_route_and_orders_by_state(api):
    before = (await api.client.get("/metrics")).text
    trader = await api.trader()
    account = await api.account(trader)
    await api.tick("SOLUSDT", 150.0)
    placed = await api.client.post(
        f"{R}/orders",
        headers=trader.headers,
        json={"broker_account_id": account, "symbol": "SOLUSDT", "side": "BUY", "quantity": "1"},
    )
    await api.tick("SOLUSDT", 151.0)
    await api.settle()
    await api.client.get(f"{R}/orders/{placed.json()['id']}", headers=trader.headers)
    after = (await api.client.get("/metrics")).text

    def grew(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    route = {"service": "api", "method": "POST", "route": f"{R}/orders", "status": "201"}
    assert grew("algotrade_http_requests_total", **route) == 1
    by_id = {"method": "GET", "route": f"{R}/orders/{{order_id}}"}
    assert grew("algotrade_http_request_duration_seconds_count", **by_id) == 1
    assert grew("algotrade_order_transitions_total", status="FILLED") >= 1
    assert grew("algotrade_fills_total", side="BUY") >= 1


async def test_a_denied_order_counts_under_its_check(api):
    trader = await api.trader()
    account = await api.account(trader, capital="1000")
    await api.tick("SOLUSDT", 150.0)
    before = (await api.client.get("/metrics")).text
    denied = await api.client.post(
        f"{R}/orders",
        headers=trader.headers,
        json={
            "broker_account_id": account,
            "symbol": "SOLUSDT",
            "side": "BUY",
            "quantity": "1000",
        },
    )
    after = (await api.client.get("/metrics")).text

    assert denied.json()["status"] == "DENIED", denied.text
    code = denied.json()["reason_code"]
    grown = _sample(after, "algotrade_risk_denials_total", check=code) - _sample(
        before, "algotrade_risk_denials_total", check=code
    )
    assert grown == 1
