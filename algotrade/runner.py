"""The one-process runner: the whole platform wired together in the embedded profile."""

from __future__ import annotations

import logging

import uvicorn

from algotrade.migrate import upgrade
from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from shared.config import Settings

log = logging.getLogger(__name__)


def run_embedded(settings: Settings, *, host: str, port: int) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.migration_url)
    ctx = GatewayContext.build(settings)
    app = create_app(ctx)
    log.info("algotrade running on http://%s:%d (API docs at /api/v1/docs)", host, port)
    uvicorn.run(
        app, host=host, port=port, log_level=settings.log_level.lower(), proxy_headers=False
    )
