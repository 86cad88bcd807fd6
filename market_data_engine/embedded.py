"""Starting the market data service inside the one-process platform (embedded profile).

With the simulated feed, the recent sessions' history is written first (what the
store is missing; see ``backfill``), the live prices carry on from it, and the
candle cache is filled from the store, so charts, quotes and strategy windows
have history from the start. Market status is announced on ``md:status``.
"""

from __future__ import annotations

import asyncio
import logging

from market_data_engine.backfill import History, HistoryBackfill, warm_candle_cache
from market_data_engine.factory import build_feed, build_service, simulated_symbols
from market_data_engine.feeds.simulated_history import HistorySimulator
from market_data_engine.service import CandleHandler, MarketDataService
from market_data_engine.status import MarketStatusPublisher
from shared.instruments import InstrumentCatalog, load_catalog
from shared.market_status import exchanges_of
from shared.runtime import Runtime

log = logging.getLogger(__name__)


class EmbeddedMarketData:
    """The running market data service and its market status announcements."""

    def __init__(
        self,
        service: MarketDataService,
        status: MarketStatusPublisher,
        history: History | None,
    ) -> None:
        self.service = service
        self.status = status
        self.history = history

    async def stop(self) -> None:
        await self.status.stop()
        await self.service.stop()


async def start(runtime: Runtime, on_candles: CandleHandler | None = None) -> EmbeddedMarketData:
    """Write missing history (simulated feed), then start the feed and the status announcements."""
    settings = runtime.settings
    catalog = await asyncio.to_thread(load_catalog)
    history = None
    feed = None
    if settings.feed == "simulated" and settings.feed_history_sessions > 0:
        history = await _write_history(runtime, catalog)
        feed = build_feed(settings, catalog, start_prices=history.last_prices, clock=runtime.clock)
    service = await build_service(runtime, on_candles=on_candles, feed=feed)
    if history is not None:
        for bars in history.open_sessions:
            service.engine.seed(bars, history.end)
        await warm_candle_cache(runtime.tickstore, runtime.candle_cache, service.feed.symbols)
    await service.start()
    status = MarketStatusPublisher(runtime.bus, runtime.clock, exchanges_of(catalog))
    await status.start()
    return EmbeddedMarketData(service, status, history)


async def _write_history(runtime: Runtime, catalog: InstrumentCatalog) -> History:
    settings = runtime.settings
    symbols = simulated_symbols(settings, catalog)
    await runtime.tickstore.start()
    backfill = HistoryBackfill(
        runtime.tickstore,
        catalog,
        HistorySimulator(
            ticks_per_minute=settings.feed_rate * 60 / len(symbols), seed=settings.feed_seed
        ),
        runtime.clock,
        sessions=settings.feed_history_sessions,
    )
    history = await backfill.run(symbols)
    log.info(
        "history: %d candles written for %d of %d symbols in %.1f s",
        history.written,
        history.symbols,
        len(symbols),
        history.seconds,
    )
    return history
