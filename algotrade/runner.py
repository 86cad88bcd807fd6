"""The one-process runner: the whole platform wired together in the embedded profile."""

from __future__ import annotations

import logging

import uvicorn

from algotrade.migrate import upgrade
from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from shared.bus import InProcessEventBus
from shared.config import Settings
from websocket_service.endpoint import WsContext
from websocket_service.endpoint import router as ws_router
from websocket_service.hub import Hub

log = logging.getLogger(__name__)


def run_embedded(settings: Settings, *, host: str, port: int) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.migration_url)
    bus = InProcessEventBus()
    ctx = GatewayContext.build(settings, bus=bus)
    hub = Hub(bus)

    async def start_hub() -> None:
        await hub.start()

    app = create_app(ctx, on_startup=[start_hub], app_routers=[ws_router])
    app.state.ws = WsContext(sessions=ctx.sessions, jwt=ctx.jwt, clock=ctx.clock, hub=hub)
    log.info(
        "algotrade running on http://%s:%d (API docs at /api/v1/docs, WebSocket /ws)", host, port
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
        ws_max_size=64 * 1024,
    )
