"""Entry points of the distributed profile's services, one process each."""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from shared import metrics
from shared.bus import create_event_bus
from shared.clock import SystemClock
from shared.config import Settings, get_settings
from shared.db import create_engine, create_sessionmaker
from shared.logs import configure_logging
from shared.ratelimit import rate_limiter_from_settings
from shared.runtime import tune_collector
from shared.security.jwt import JWTKeys
from websocket_service.app import create_ws_app
from websocket_service.endpoint import WsContext
from websocket_service.hub import Hub
from websocket_service.transport import SinkWebSocketProtocol


def serve_service(name: str, settings: Settings) -> None:
    if name == "api":
        if settings.api_workers > 1:
            _serve_api_workers(settings)
            return
        uvicorn.run(
            _api_app(settings),
            host=settings.api_host,
            port=settings.api_port,
            log_level=settings.log_level.lower(),
            log_config=None,  # uvicorn's loggers write through the process's handler
            proxy_headers=True,
        )
        return
    if name == "websocket":
        uvicorn.run(
            _ws_app(settings),
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


def _ws_app(settings: Settings) -> FastAPI:
    ws_ctx = WsContext(
        sessions=create_sessionmaker(create_engine(settings)),
        jwt=JWTKeys(settings),
        clock=SystemClock(),
        hub=Hub(create_event_bus(settings)),
        max_connections_per_user=settings.ws_max_connections_per_user,
    )
    return create_ws_app(
        ws_ctx,
        ready_timeout_s=settings.ready_timeout_seconds,
        # Once started, as the gateway: thousands of sockets and their backlogs live long,
        # and a full collection walking them pauses every connection's sends.
        on_startup=[tune_collector],
    )


def _api_app(settings: Settings) -> FastAPI:
    limiter = rate_limiter_from_settings(settings) if settings.rate_limit_enabled else None
    return create_app(
        GatewayContext.build(settings, bus=create_event_bus(settings), rate_limiter=limiter),
        # Once started: a full collection of the start-up heap paused every request for
        # 80-150 ms, the gateway's slowest answers under load (docs/performance.md).
        on_startup=[tune_collector],
    )


def api_worker_app() -> FastAPI:
    """The gateway of one worker process (``api_workers`` > 1): its settings are read from
    the environment, as the command that started the workers read them."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format, "api")
    return _api_app(settings)


def _serve_api_workers(settings: Settings) -> None:
    """``api_workers`` processes of the gateway on one listening socket (uvicorn's
    supervisor starts them and replaces one that dies). Their metrics add up on
    ``/metrics`` through a directory of their own (``PROMETHEUS_MULTIPROC_DIR``: made for
    the run when not set, emptied at start when set)."""
    given = os.environ.get(metrics.MULTIPROC_ENV)
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="algotrade-api-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[metrics.MULTIPROC_ENV] = str(directory)  # the workers inherit it
    try:
        uvicorn.run(
            f"{__name__}:api_worker_app",
            factory=True,
            workers=settings.api_workers,
            host=settings.api_host,
            port=settings.api_port,
            log_level=settings.log_level.lower(),
            log_config=None,
            proxy_headers=True,
        )
    finally:
        if not given:
            shutil.rmtree(directory, ignore_errors=True)


SERVICE_PACKAGES = {
    "market-data": "market_data_engine",
    "order-processor": "order_processor",
    "strategy-worker": "strategy_workers",
    "analytics-worker": "analytics_service",
    "alerts": "analytics_service.alerts",
}
