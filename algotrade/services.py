"""Entry points of the distributed profile's services, one process each."""

from __future__ import annotations

import importlib

import uvicorn

from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from shared.bus import create_event_bus
from shared.clock import SystemClock
from shared.config import Settings
from shared.db import create_engine, create_sessionmaker
from shared.ratelimit import rate_limiter_from_settings
from shared.security.jwt import JWTKeys
from websocket_service.app import create_ws_app
from websocket_service.endpoint import WsContext
from websocket_service.hub import Hub
from websocket_service.transport import SinkWebSocketProtocol


def serve_service(name: str, settings: Settings) -> None:
    if name == "api":
        limiter = rate_limiter_from_settings(settings) if settings.rate_limit_enabled else None
        app = create_app(
            GatewayContext.build(settings, bus=create_event_bus(settings), rate_limiter=limiter)
        )
        uvicorn.run(
            app,
            host=settings.api_host,
            port=settings.api_port,
            log_level=settings.log_level.lower(),
            log_config=None,  # uvicorn's loggers write through the process's handler
            proxy_headers=True,
        )
        return
    if name == "websocket":
        sessions = create_sessionmaker(create_engine(settings))
        ws_ctx = WsContext(
            sessions=sessions,
            jwt=JWTKeys(settings),
            clock=SystemClock(),
            hub=Hub(create_event_bus(settings)),
            max_connections_per_user=settings.ws_max_connections_per_user,
        )
        uvicorn.run(
            create_ws_app(ws_ctx, ready_timeout_s=settings.ready_timeout_seconds),
            host=settings.api_host,
            port=settings.ws_port,
            log_level=settings.log_level.lower(),
            log_config=None,
            proxy_headers=True,
            ws_max_size=64 * 1024,
            ws=SinkWebSocketProtocol,  # public frames encoded once, written without a wait
        )
        return
    package = SERVICE_PACKAGES.get(name)
    if package is None:
        raise SystemExit(f"unknown service {name!r}")
    # Each service package exposes main.run(settings): build its runtime, run until signalled.
    importlib.import_module(f"{package}.main").run(settings)


SERVICE_PACKAGES = {
    "market-data": "market_data_engine",
    "order-processor": "order_processor",
    "strategy-worker": "strategy_workers",
    "analytics-worker": "analytics_service",
    "alerts": "analytics_service.alerts",
}
