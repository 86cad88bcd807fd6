"""The API's routers are matched in the order of their traffic, which is safe only while no
route of one router matches a path another router serves."""

from __future__ import annotations

import itertools
import re

from fastapi.routing import APIRoute

from api_gateway.app import ROUTERS


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")


def _examples(template: str) -> list[str]:
    """Paths the template serves: its parameters as a number, and as a word."""
    return [re.sub(r"\{[^}]+\}", value, template) for value in ("1", "x")]


def test_no_route_of_one_router_matches_a_path_of_another():
    routes = [
        (n, route.path, route.methods)
        for n, router in enumerate(ROUTERS)
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    clashes = [
        (a, b)
        for (i, a, ma), (j, b, mb) in itertools.combinations(routes, 2)
        if i != j
        and ma & mb
        and (
            any(_pattern(b).match(p) for p in _examples(a))
            or any(_pattern(a).match(p) for p in _examples(b))
        )
    ]

    assert len(routes) > 50 and clashes == []
