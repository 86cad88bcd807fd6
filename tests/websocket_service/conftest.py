"""A real uvicorn server with the gateway and the /ws endpoint, on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from algotrade.admin import ensure_admin
from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from shared.bus import InProcessEventBus
from tests.api_gateway.conftest import settings_for
from tests.api_gateway.factories import PASSWORD, Trader, login, make_trader
from websocket_service.endpoint import WsContext
from websocket_service.endpoint import router as ws_router
from websocket_service.hub import Hub
from websocket_service.transport import SinkWebSocketProtocol


@dataclass
class LiveServer:
    base: str
    ws_url: str
    bus: InProcessEventBus
    hub: Hub
    client: httpx.AsyncClient
    ws: WsContext
    ctx: GatewayContext

    async def trader(self) -> Trader:
        return await make_trader(self.client)

    async def admin(self) -> Trader:
        email = f"ws-admin{next(_admins)}@example.com"
        await ensure_admin(self.ctx.settings, email, PASSWORD, "Admin")
        tokens = await login(self.client, email)
        me = await self.client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        return Trader(me.json()["id"], email, tokens["access_token"], tokens["refresh_token"])


_admins = itertools.count(1)


@pytest.fixture
async def live(request, tmp_path) -> AsyncIterator[LiveServer]:
    from algotrade.migrate import upgrade

    settings = settings_for("sqlite", request, tmp_path)
    await asyncio.to_thread(upgrade, settings.migration_url)
    bus = InProcessEventBus()
    ctx = GatewayContext.build(settings, bus=bus)
    hub = Hub(bus, max_queue=50, send_timeout=1.0)
    await hub.start()
    app = create_app(ctx, app_routers=[ws_router])
    ws_ctx = app.state.ws = WsContext(
        sessions=ctx.sessions, jwt=ctx.jwt, clock=ctx.clock, hub=hub, auth_timeout=1.0
    )
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        ws_max_size=64 * 1024,
        ws=SinkWebSocketProtocol,  # as the services serve it
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base) as client:
        yield LiveServer(base, f"ws://127.0.0.1:{port}/ws", bus, hub, client, ws_ctx, ctx)
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    await hub.stop()
    await ctx.engine.dispose()
