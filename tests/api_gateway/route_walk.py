"""Walk the app's own route table (its OpenAPI paths) to check every route, not a hand-kept list.

Each path parameter name maps to a factory that creates the resource as the
owner; each route that takes a body maps to a valid example body. Parts of the
platform contribute their factories and bodies in ``tests/**/walk_*.py`` modules
(dicts named ``PARAM_FACTORIES`` and ``BODIES``). A new route
with an unknown parameter, or a body that does not validate, fails the walk
until it is registered here.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.api_gateway.factories import Trader

R = "/api/v1"
Factory = Callable[[httpx.AsyncClient, Trader], Awaitable[int | str]]


async def _broker_account(client: httpx.AsyncClient, owner: Trader) -> int:
    r = await client.post(
        f"{R}/broker-accounts", headers=owner.headers, json={"label": f"walk-{owner.id}"}
    )
    if r.status_code == 409:
        listing = await client.get(f"{R}/broker-accounts", headers=owner.headers)
        label = f"walk-{owner.id}"  # the owner's account of this kind (an INR one, a USDT one)
        return next(int(a["id"]) for a in listing.json()["items"] if a["label"] == label)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _self_user(client: httpx.AsyncClient, owner: Trader) -> int:
    return owner.id


# path parameter name -> how to make the owner's resource of that kind
PARAM_FACTORIES: dict[str, Factory] = {
    "account_id": _broker_account,
    "user_id": _self_user,
}

# path parameters naming data every user may read (not owned by anyone)
SHARED_PARAMS: dict[str, str] = {"symbol": "RELIANCE"}

# (method, path template) -> a body that passes validation
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", f"{R}/broker-accounts/{{account_id}}"): {"label": "renamed"},
    ("PUT", f"{R}/admin/users/{{user_id}}/role"): {"role": "trader"},
    ("PUT", f"{R}/users/me/preferences"): {"watchlist": ["INFY"], "theme": "dark"},
}


def _load_contributions() -> None:
    """Merge PARAM_FACTORIES and BODIES from every ``tests/**/walk_*.py`` module."""
    import importlib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for path in sorted(root.glob("**/walk_*.py")):
        module = importlib.import_module(
            ".".join(("tests", *path.relative_to(root).with_suffix("").parts))
        )
        PARAM_FACTORIES.update(getattr(module, "PARAM_FACTORIES", {}))
        SHARED_PARAMS.update(getattr(module, "SHARED_PARAMS", {}))
        BODIES.update(getattr(module, "BODIES", {}))


_load_contributions()

PUBLIC = {
    ("POST", f"{R}/auth/register"),
    ("POST", f"{R}/auth/login"),
    ("POST", f"{R}/auth/refresh"),
    ("GET", "/health"),
    ("GET", "/ready"),
}


def routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) the application serves, from its OpenAPI document."""
    out = []
    for path, ops in app.openapi()["paths"].items():
        for method in ops:
            if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                out.append((method.upper(), path))
    return sorted(out)


def params(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def owned_params(path: str) -> list[str]:
    """The path parameters that name a user's own resources."""
    return [p for p in params(path) if p not in SHARED_PARAMS]


async def fill(client: httpx.AsyncClient, path: str, owner: Trader) -> str:
    for name in params(path):
        if name in SHARED_PARAMS:
            path = path.replace(f"{{{name}}}", SHARED_PARAMS[name])
            continue
        factory = PARAM_FACTORIES.get(name)
        assert factory is not None, f"register a factory for path parameter {name!r} ({path})"
        path = path.replace(f"{{{name}}}", str(await factory(client, owner)))
    return path
