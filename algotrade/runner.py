"""The one-process runner: the whole platform wired together in the embedded profile."""

from __future__ import annotations

import importlib
import logging

import uvicorn
from fastapi import FastAPI

from algotrade.migrate import upgrade
from algotrade.runtime import build_runtime
from analytics_service.api import fail_interrupted
from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from shared.clock import Clock
from shared.config import Settings
from shared.runtime import Stoppable, tune_collector
from websocket_service.endpoint import WsContext
from websocket_service.endpoint import router as ws_router
from websocket_service.hub import Hub
from websocket_service.transport import SinkWebSocketProtocol

log = logging.getLogger(__name__)

# Started in this order (consumers before producers), stopped in reverse.
EMBEDDED_SERVICES = (
    "analytics_service.alerts",
    "order_processor",
    "strategy_workers",
    "market_data_engine",
)


def run_embedded(settings: Settings, *, host: str, port: int) -> None:
    app = build_embedded_app(settings)
    log.info(
        "algotrade on http://%s:%d (dashboard /, API docs /api/v1/docs, WebSocket /ws)", host, port
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's loggers write through the process's handler
        proxy_headers=False,
        ws_max_size=64 * 1024,
        ws=SinkWebSocketProtocol,  # public frames encoded once, written without a wait
    )


def build_embedded_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """The whole platform as one ASGI app: a migrated database, and the services started
    by its lifespan (with the simulated feed, its history first) and stopped in reverse."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.migration_url)
    runtime = build_runtime(settings, clock)
    ctx = GatewayContext.build(
        settings,
        bus=runtime.bus,
        engine=runtime.engine,
        tick_store=runtime.tickstore,
        clock=runtime.clock,
    )
    hub = Hub(runtime.bus)
    running: list[Stoppable] = []

    async def start_services() -> None:
        # Backtests run inside this process: any left running by the last one were cut short.
        await fail_interrupted(ctx.sessions, ctx.clock.now())
        await hub.start()
        for package in EMBEDDED_SERVICES:
            module = importlib.import_module(f"{package}.embedded")
            running.append(await module.start(runtime))
            log.info("%s started", package)
        # GC tuning lives here, in the entry point, never in a service.
        tune_collector()

    async def stop_services() -> None:
        if ctx.backtest_launcher is not None:
            await ctx.backtest_launcher.stop()
        for service in reversed(running):
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", type(service).__name__)
        await hub.stop()
        await runtime.tickstore.close()
        await runtime.bus.close()

    app = create_app(
        ctx, on_startup=[start_services], on_shutdown=[stop_services], app_routers=[ws_router]
    )
    app.state.ws = WsContext(
        sessions=ctx.sessions,
        jwt=ctx.jwt,
        clock=ctx.clock,
        hub=hub,
        max_connections_per_user=settings.ws_max_connections_per_user,
    )
    return app
