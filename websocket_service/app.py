"""The WebSocket service as its own ASGI app (distributed profile), or mounted in the gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from shared import metrics
from shared.http_observability import ObservabilityMiddleware
from shared.readiness import DEFAULT_TIMEOUT_S, Check, bus_checks, check_all, database_check
from websocket_service import status
from websocket_service.endpoint import WsContext, router


def create_ws_app(
    ctx: WsContext,
    *,
    owns_hub: bool = True,
    ready_timeout_s: float = DEFAULT_TIMEOUT_S,
    on_startup: Sequence[Callable[[], object]] = (),
) -> FastAPI:
    """``on_startup``: called once the hub runs and the calendars are loaded (process tuning
    by the entry point)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if owns_hub:
            await ctx.hub.start()
        await asyncio.to_thread(status.warm)  # the first status snapshot loads the calendars
        for hook in on_startup:
            hook()
        yield
        if owns_hub:
            await ctx.hub.stop()

    app = FastAPI(
        title="algotrade websocket",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.ws = ctx
    app.include_router(router)

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {"status": "ok", "connections": ctx.hub.connections()}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """The database (sign-in) and the event bus (Redis) answer; 503 names what did not."""
        checks: dict[str, Check] = {"database": database_check(ctx.sessions.kw["bind"])}
        checks |= bus_checks(ctx.hub.bus)
        found = await check_all(checks, ready_timeout_s)
        return JSONResponse(found.body(), status_code=200 if found.ready else 503)

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        metrics.WS_CONNECTIONS.set(ctx.hub.connections())
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)

    app.add_middleware(ObservabilityMiddleware, service="websocket")

    return app
