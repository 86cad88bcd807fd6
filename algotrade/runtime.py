"""Building the shared clients of a process from settings (one place for both profiles)."""

from __future__ import annotations

from shared.bus import create_event_bus
from shared.candle_cache import candle_cache_from_settings
from shared.clock import Clock, SystemClock
from shared.config import Settings
from shared.db import create_engine, create_sessionmaker
from shared.runtime import Runtime
from shared.tickstore import tickstore_from_settings


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    engine = create_engine(settings)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=create_sessionmaker(engine),
        bus=create_event_bus(settings),
        tickstore=tickstore_from_settings(settings),
        candle_cache=candle_cache_from_settings(settings),
        clock=clock or SystemClock(),
    )
