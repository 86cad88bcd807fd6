"""Building the shared clients of a process from settings (one place for both profiles)."""

from __future__ import annotations

from shared.bus import create_event_bus
from shared.candle_cache import CandleCache, InProcessCandleCache
from shared.clock import Clock, SystemClock
from shared.config import Profile, Settings
from shared.db import create_engine, create_sessionmaker
from shared.runtime import Runtime
from shared.tickstore import tickstore_from_settings


def build_candle_cache(settings: Settings) -> CandleCache:
    if settings.profile is Profile.EMBEDDED:
        return InProcessCandleCache()
    from shared.candle_cache_redis import RedisCandleCache
    from shared.redis_client import create_redis_from_settings

    return RedisCandleCache(create_redis_from_settings(settings))


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    engine = create_engine(settings)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=create_sessionmaker(engine),
        bus=create_event_bus(settings),
        tickstore=tickstore_from_settings(settings),
        candle_cache=build_candle_cache(settings),
        clock=clock or SystemClock(),
    )
