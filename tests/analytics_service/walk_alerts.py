"""Route-walk contributions of /alerts, /notification-channels and /price-alerts."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api_gateway.factories import Trader

# Not imported from route_walk: it imports this module while it loads.
R = "/api/v1"


async def websocket_channel(client: httpx.AsyncClient, owner: Trader) -> int:
    """The owner's WebSocket channel (made once: it needs no outside receiver)."""
    listing = await client.get(f"{R}/notification-channels", headers=owner.headers)
    assert listing.status_code == 200, listing.text
    for item in listing.json()["items"]:
        if item["kind"] == "websocket":
            return int(item["id"])
    r = await client.post(
        f"{R}/notification-channels", headers=owner.headers, json={"kind": "websocket"}
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def make_alert(client: httpx.AsyncClient, owner: Trader) -> str:
    """An alert in the owner's history: the test alert of their WebSocket channel."""
    channel_id = await websocket_channel(client, owner)
    r = await client.post(f"{R}/notification-channels/{channel_id}/test", headers=owner.headers)
    assert r.status_code == 200, r.text
    return str(r.json()["alert_id"])


async def _price_alert(client: httpx.AsyncClient, owner: Trader) -> int:
    r = await client.post(f"{R}/price-alerts", headers=owner.headers, json=PRICE_ALERT)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


PRICE_ALERT: dict[str, Any] = {"symbol": "RELIANCE", "condition": "crosses_above", "price": "3000"}

PARAM_FACTORIES = {
    "alert_id": make_alert,
    "channel_id": websocket_channel,
    "price_alert_id": _price_alert,
}

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", f"{R}/notification-channels"): {"kind": "websocket"},
    ("PATCH", f"{R}/notification-channels/{{channel_id}}"): {"severities": ["WARNING"]},
    ("POST", f"{R}/price-alerts"): PRICE_ALERT,
    ("PATCH", f"{R}/price-alerts/{{price_alert_id}}"): {"price": "3100.5"},
}
