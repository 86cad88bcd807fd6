"""Starting the market data service inside the one-process platform (embedded profile)."""

from __future__ import annotations

from market_data_engine.factory import build_service
from market_data_engine.service import CandleHandler, MarketDataService
from shared.runtime import Runtime


async def start(runtime: Runtime, on_candles: CandleHandler | None = None) -> MarketDataService:
    """Build the service from the runtime's settings and start it; ``stop()`` ends it."""
    service = await build_service(runtime, on_candles=on_candles)
    await service.start()
    return service
