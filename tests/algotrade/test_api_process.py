"""The API's and the WebSocket service's process entry points (``algotrade serve api``,
``websocket``): their apps tune the collector once
started, as the order path's entry points do."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from algotrade.migrate import upgrade
from algotrade.services import _api_app, _ws_app
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
async def test_the_api_app_freezes_its_start_up_heap_and_raises_the_thresholds(
    request: pytest.FixtureRequest, tmp_path
) -> None:
    settings = settings_for("sqlite", request, tmp_path)
    await asyncio.to_thread(upgrade, settings.migration_url)
    app = _api_app(settings)

    async with app.router.lifespan_context(app):
        thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()

    assert thresholds == COLLECTOR_THRESHOLDS and frozen > 0


@pytest.mark.usefixtures("collector")
async def test_the_websocket_app_tunes_the_collector_once_started(
    request: pytest.FixtureRequest, tmp_path
) -> None:
    settings = settings_for("sqlite", request, tmp_path)
    await asyncio.to_thread(upgrade, settings.migration_url)
    app = _ws_app(settings)

    async with app.router.lifespan_context(app):
        thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()

    assert thresholds == COLLECTOR_THRESHOLDS and frozen > 0
