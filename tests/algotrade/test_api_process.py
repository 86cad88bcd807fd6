"""The API's and the WebSocket service's process entry points (``algotrade serve api``,
``websocket``): their apps tune the collector once started, as the order path's do."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI

from algotrade.migrate import upgrade
from algotrade.services import _api_app, _ws_app
from shared.config import Settings
from shared.runtime import COLLECTOR_THRESHOLDS
from tests.api_gateway.conftest import settings_for


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector")
@pytest.mark.parametrize("build", [_api_app, _ws_app], ids=["api", "websocket"])
async def test_the_app_freezes_its_start_up_heap_and_raises_the_thresholds(
    build: Callable[[Settings], FastAPI], request: pytest.FixtureRequest, tmp_path
) -> None:
    settings = settings_for("sqlite", request, tmp_path)
    await asyncio.to_thread(upgrade, settings.migration_url)
    app = build(settings)

    async with app.router.lifespan_context(app):
        thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()

    assert thresholds == COLLECTOR_THRESHOLDS and frozen > 0
