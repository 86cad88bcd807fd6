"""The WebSocket service as its own ASGI app (distributed profile), or mounted in the gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from websocket_service import status
from websocket_service.endpoint import WsContext, router


def create_ws_app(ctx: WsContext, *, owns_hub: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if owns_hub:
            await ctx.hub.start()
        await asyncio.to_thread(status.warm)  # the first status snapshot loads the calendars
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

    return app
