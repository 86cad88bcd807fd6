"""Entry points of the distributed profile's services, one process each."""

from __future__ import annotations

import uvicorn

from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from shared.config import Settings


def serve_service(name: str, settings: Settings) -> None:
    if name == "api":
        app = create_app(GatewayContext.build(settings))
        uvicorn.run(
            app,
            host=settings.api_host,
            port=settings.api_port,
            log_level=settings.log_level.lower(),
            proxy_headers=True,
        )
        return
    raise SystemExit(f"service {name!r} is not available in this build")
