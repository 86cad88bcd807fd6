"""Route-walk contributions of the strategy routes: how to make a subscription, valid bodies."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api_gateway.factories import Trader

# Not imported from route_walk: it imports this module while it loads.
R = "/api/v1"


async def _broker_account(client: httpx.AsyncClient, owner: Trader) -> int:
    r = await client.post(
        f"{R}/broker-accounts", headers=owner.headers, json={"label": f"walk-sub-{owner.id}"}
    )
    if r.status_code == 409:
        listing = await client.get(f"{R}/broker-accounts", headers=owner.headers)
        label = f"walk-sub-{owner.id}"  # the owner's INR account (others may be USDT)
        return next(int(a["id"]) for a in listing.json()["items"] if a["label"] == label)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def subscription_body(account_id: int, **overrides: Any) -> dict[str, Any]:
    """A valid subscription request for ``account_id``."""
    body: dict[str, Any] = {
        "strategy": "ma_crossover",
        "params": {"fast": 5, "slow": 20},
        "symbols": ["INFY", "TCS"],
        "timeframe": "5m",
        "broker_account_id": account_id,
        "sizing_method": "fixed_fractional",
        "sizing_params": {"risk_fraction": "0.01"},
        "capital_allocation": "25000.00",
        "mode": "paper",
    }
    body.update(overrides)
    return body


async def _subscription(client: httpx.AsyncClient, owner: Trader) -> int:
    account_id = await _broker_account(client, owner)
    r = await client.post(
        f"{R}/subscriptions", headers=owner.headers, json=subscription_body(account_id)
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


PARAM_FACTORIES = {"subscription_id": _subscription}

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", f"{R}/subscriptions"): subscription_body(1),
    ("PATCH", f"{R}/subscriptions/{{subscription_id}}"): {"name": "renamed"},
}
