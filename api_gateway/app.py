"""The FastAPI application: REST under /api/v1, the SPA at /."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from api_gateway.context import GatewayContext
from api_gateway.deps import rate_limit
from api_gateway.docs import docs_router
from api_gateway.errors import install_error_handlers, unexpected_error
from api_gateway.middleware import (
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
    UnhandledErrorMiddleware,
)
from api_gateway.routers import (
    admin,
    alerts,
    analytics,
    auth,
    backtest_data,
    backtests,
    brokers,
    health,
    market,
    orders,
    strategies,
    trading,
    users,
)
from shared.config import Environment
from shared.http_observability import ObservabilityMiddleware

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"
WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"

# Routers other parts of the platform contribute (market data, orders, subscriptions...).
# A request is matched against the routes in this order, one after the other, so the
# routers of the dashboard's frequent reads come first. No route of one router matches a
# path of another's (a test holds this), so the order decides nothing else.
ROUTERS: list[APIRouter] = [
    orders.router,
    market.router,
    brokers.router,
    analytics.router,
    strategies.router,
    alerts.router,
    users.router,
    trading.router,
    backtests.router,
    backtest_data.router,
    auth.router,
    admin.router,
]


async def _follow_closes(ctx: GatewayContext) -> None:
    """Quotes are built again as candles close (docs/operations.md); without the events
    they are built again every ``latest_tick_ttl_seconds``."""
    assert ctx.bus is not None
    try:
        await ctx.quotes().follow(ctx.bus)
    except Exception:
        log.exception("following candle closes failed; quotes are rebuilt on a timer")


def create_app(
    ctx: GatewayContext,
    *,
    extra_routers: Sequence[APIRouter] = (),
    app_routers: Sequence[APIRouter] = (),
    on_startup: Sequence[Callable[[], object]] = (),
    on_shutdown: Sequence[Callable[[], object]] = (),
    dispose_engine: bool = True,
) -> FastAPI:
    settings = ctx.settings

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for hook in on_startup:
            result = hook()
            if hasattr(result, "__await__"):
                await result
        relay = asyncio.create_task(ctx.relay.run(), name="gateway-outbox-relay")
        tasks = [relay]
        if ctx.bus is not None:
            tasks.append(asyncio.create_task(_follow_closes(ctx), name="gateway-quote-closes"))
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if ctx.rate_limiter is not None:
            await ctx.rate_limiter.close()
        for hook in on_shutdown:
            result = hook()
            if hasattr(result, "__await__"):
                await result
        if dispose_engine:
            await ctx.engine.dispose()

    docs = settings.docs_enabled
    app = FastAPI(
        title="algotrade",
        version="0.1.0",
        summary="Multi-user algorithmic trading platform",
        lifespan=lifespan,
        docs_url=None,  # served by docs_router with local assets
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json" if docs else None,
        debug=False,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    # Probes first: they are frequent and cheap, and must not wait on matching every route.
    app.include_router(health.router)
    # Each router is included in the app itself, not in an /api/v1 router included in
    # turn: a request is matched against one level of routers instead of two (matching
    # walks every level again as it descends).
    for router in [*ROUTERS, *extra_routers]:
        app.include_router(router, prefix=API_PREFIX, dependencies=[Depends(rate_limit)])
    if docs:
        app.include_router(docs_router(API_PREFIX, f"{API_PREFIX}/openapi.json", app.title))
    for router in app_routers:  # e.g. the WebSocket endpoint: before the SPA catches "/"
        app.include_router(router)
    # Added first, so innermost: errors are answered before any other middleware sees them.
    app.add_middleware(UnhandledErrorMiddleware, render=unexpected_error)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=settings.environment is not Environment.DEVELOPMENT
            or "*" not in settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        larger={("POST", f"{API_PREFIX}/backtest-data"): settings.backtest_max_upload_bytes},
    )
    # Added last, so outermost: the request id and the timing cover every answer.
    app.add_middleware(ObservabilityMiddleware, service="api")
    if WEB_DIST.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIST, html=True), name="web")
    return app
