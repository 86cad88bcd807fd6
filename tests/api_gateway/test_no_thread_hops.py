"""No request waits on the thread pool for its dependencies or its endpoint.

FastAPI runs a plain ``def`` dependency or endpoint in the thread pool: a thread
hand-off per request, each way, for code that never blocks. Work that does block
says so itself (``asyncio.to_thread``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute


def _coroutine(call: Callable[..., Any]) -> bool:
    for fn in (call, getattr(call, "__call__", None)):  # a class instance: its __call__
        if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
            return True
    return False


def _in_thread_pool(app: FastAPI) -> tuple[set[tuple[str, str]], set[str]]:
    """(route path, callable) of what runs in the thread pool; and the routes walked."""
    found: set[tuple[str, str]] = set()
    walked: set[str] = set()

    def note(call: Callable[..., Any] | None, path: str) -> None:
        if call is not None and not _coroutine(call):
            found.add((path, getattr(call, "__qualname__", repr(call))))

    def walk(dependant: Dependant, path: str) -> None:
        note(dependant.call, path)
        for sub in dependant.dependencies:
            walk(sub, path)

    def routes(table: list[Any], prefix: str, own: str = "") -> None:
        """``own``: the prefix of the router ``table`` belongs to (its routes' paths hold it)."""
        for route in table:
            if isinstance(route, APIRoute):
                path = prefix + route.path.removeprefix(own)
                walked.add(path)
                walk(route.dependant, path)
            router = getattr(route, "original_router", None)  # an included router
            if router is not None:
                context = getattr(route, "include_context", None)  # include_router(...)'s
                inner = prefix + (context.prefix if context else "")
                inner += router.prefix
                for depends in [*router.dependencies, *(context.dependencies if context else [])]:
                    note(depends.dependency, inner)
                routes(router.routes, inner, router.prefix)

    routes(app.router.routes, "")
    for depends in app.router.dependencies:
        note(depends.dependency, "")
    return found, walked


def test_the_walk_finds_a_plain_function_dependency():
    def plain() -> int:
        return 1

    app = FastAPI()

    @app.get("/x")
    async def x(_: int = Depends(plain)) -> None:
        return None

    found, _ = _in_thread_pool(app)
    assert found == {("/x", "test_the_walk_finds_a_plain_function_dependency.<locals>.plain")}


async def test_no_route_runs_a_dependency_or_endpoint_in_the_thread_pool(sqlite_api):
    found, walked = _in_thread_pool(sqlite_api.app)

    assert {"/api/v1/orders", "/api/v1/market/quotes"} <= walked
    assert found == set()
