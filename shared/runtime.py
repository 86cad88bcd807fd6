"""What a running service is handed: settings and the clients it shares, built once.

The composition root builds one ``Runtime`` (embedded: in-process adapters, one
for the whole platform; distributed: one per service process) and passes it to
each service's ``start(runtime)``. Services read nothing from globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.bus import EventBus
from shared.candle_cache import CandleCache
from shared.clock import Clock
from shared.config import Settings
from shared.tickstore import TickStore


class Stoppable(Protocol):
    async def stop(self) -> None: ...


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    tickstore: TickStore
    candle_cache: CandleCache
    clock: Clock
    extras: dict[str, object] = field(default_factory=dict)
