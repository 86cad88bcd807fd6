"""Building the market data service from settings: which feed, which symbols, which rate."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta

from market_data_engine.candles.engine import CandleEngine
from market_data_engine.feed_watch import FeedWatch, any_market_open
from market_data_engine.feeds.base import Feed
from market_data_engine.feeds.binance import BinanceTradeFeed
from market_data_engine.feeds.replay import ReplayFeed
from market_data_engine.feeds.simulated import SimulatedFeed
from market_data_engine.service import CandleHandler, MarketDataService
from market_data_engine.validation import TickValidator
from shared.clock import Clock
from shared.config import Settings
from shared.instruments import InstrumentCatalog, load_catalog
from shared.runtime import Runtime


def simulated_symbols(settings: Settings, catalog: InstrumentCatalog) -> list[str]:
    """The simulated feed's symbols: ``feed_symbols``, or every instrument of the catalog.

    Each trades in its own exchange's sessions (NSE and US hours, crypto around the
    clock), so every instrument has a price and a history.
    """
    return list(settings.feed_symbols) or [i.symbol for i in catalog]


def build_feed(
    settings: Settings,
    catalog: InstrumentCatalog,
    *,
    start_prices: Mapping[str, float] | None = None,
    clock: Clock | None = None,
) -> Feed:
    """The feed ``settings`` name; a simulated one starts at ``start_prices`` when given and
    stamps its ticks by ``clock`` (the wall clock by default)."""
    symbols = settings.feed_symbols or None
    if settings.feed == "replay":
        if not settings.feed_replay_paths:
            raise ValueError("ALGOTRADE_FEED_REPLAY_PATHS is required for the replay feed")
        return ReplayFeed(
            settings.feed_replay_paths,
            speed=settings.feed_replay_speed,
            symbols=symbols,
            rebase_to="start" if settings.feed_replay_rebase else None,
            clock=clock,
        )
    if settings.feed == "binance":
        return BinanceTradeFeed(
            symbols or ["BTCUSDT", "ETHUSDT"], base_url=settings.feed_binance_url
        )
    return SimulatedFeed(
        catalog,
        simulated_symbols(settings, catalog),
        seed=settings.feed_seed,
        rate=settings.feed_rate,
        realtime=True,
        around_the_clock=settings.feed_around_the_clock,
        start_prices=start_prices,
        clock=clock,
    )


async def build_service(
    runtime: Runtime, *, on_candles: CandleHandler | None = None, feed: Feed | None = None
) -> MarketDataService:
    settings = runtime.settings
    catalog = await asyncio.to_thread(load_catalog)
    # The NSE holiday list loads slowly on first use: do it off the event loop.
    await asyncio.to_thread(lambda: [catalog.calendar(s).is_trading_day for s in catalog.symbols()])
    await runtime.tickstore.start()
    feed = feed or build_feed(settings, catalog, clock=runtime.clock)
    return MarketDataService(
        feed,
        validator=TickValidator(catalog),
        engine=CandleEngine(
            catalog.calendar, grace=timedelta(seconds=settings.candle_grace_seconds)
        ),
        tickstore=runtime.tickstore,
        bus=runtime.bus,
        candle_cache=runtime.candle_cache,
        clock=runtime.clock,
        on_candles=on_candles,
        feed_watch=build_feed_watch(settings, catalog, feed, runtime.clock),
    )


def build_feed_watch(
    settings: Settings, catalog: InstrumentCatalog, feed: Feed, clock: Clock
) -> FeedWatch | None:
    """The staleness watch of a live feed (none for a replay: it runs on its own time)."""
    if settings.feed == "replay" or not settings.feed_stale_after_seconds:
        return None
    calendars = [catalog.calendar(s) for s in feed.symbols if s in catalog]
    return FeedWatch(
        feed.name,
        feed.symbols,
        timedelta(seconds=settings.feed_stale_after_seconds),
        clock.now(),
        is_open=any_market_open(calendars) if calendars else None,
    )
