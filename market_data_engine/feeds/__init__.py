"""Market data feeds: simulated, file replay and live exchange adapters, one interface."""

from market_data_engine.feeds.base import Feed
from market_data_engine.feeds.binance import BinanceFeedStats, BinanceTradeFeed
from market_data_engine.feeds.replay import ReplayFeed
from market_data_engine.feeds.simulated import SimulatedFeed

__all__ = ["BinanceFeedStats", "BinanceTradeFeed", "Feed", "ReplayFeed", "SimulatedFeed"]
