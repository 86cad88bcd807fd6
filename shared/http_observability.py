"""ASGI middleware of the HTTP services: a correlation id per request, and request metrics.

``X-Request-ID`` from the client (or a proxy) is kept when usable, else one is made;
either way the answer carries it back, and every log line and order message of the
request carries it on (``shared.logs``). Requests are counted and timed by route
template (``/api/v1/orders/{order_id}``), never by raw path, so ids do not explode the
metric's series.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import metrics
from shared.logs import correlation

HEADER = b"x-request-id"
UNMATCHED = "unmatched"
"""The route label of a request no route took (static files, 404s)."""


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The matched route's full path template; FastAPI keeps it in its own scope entry when
    the route sits in an included router (``scope["route"]`` holds the router's own path)."""
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(effective, "path", None) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED


class ObservabilityMiddleware:
    """Outermost middleware: sets the correlation id for the request, answers it in
    ``X-Request-ID``, and records ``algotrade_http_requests_total`` and the latency."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(HEADER)
        with correlation(given.decode("latin-1") if given else None) as cid:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
                return
            status = 500
            started = time.perf_counter()

            async def tagged_send(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                    message["headers"] = [*headers, (HEADER, cid.encode())]
                await send(message)

            try:
                await self.app(scope, receive, tagged_send)
            finally:
                route = route_template(scope)
                method = scope.get("method", "GET")
                method = method if method in _METHODS else "OTHER"
                metrics.HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
                metrics.HTTP_LATENCY.labels(self.service, method, route).observe(
                    time.perf_counter() - started
                )
