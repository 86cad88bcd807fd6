"""Candles from ticks: 1m built with Polars, 5m/15m/1h/1d rolled up, session aligned, event time."""

from market_data_engine.candles.buckets import TIMEFRAMES, SessionCalendar
from market_data_engine.candles.cache import CandleCache
from market_data_engine.candles.engine import CandleEngine, SymbolStats

__all__ = ["TIMEFRAMES", "CandleCache", "CandleEngine", "SessionCalendar", "SymbolStats"]
