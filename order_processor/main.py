"""The order processor as its own process (distributed profile): ``python -m order_processor.main``.

Builds its clients from settings (database, event bus, tick store, wall clock),
runs the engine until SIGTERM or SIGINT, then stops cleanly. Work cut short by
a kill is picked up on the next start (stream entries are claimed again,
PENDING orders are swept, SUBMITTED and UNKNOWN ones are reconciled).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from order_processor.brokers.base import BrokerAdapter
from order_processor.config import DEFAULT_OPTIONS, ProcessorOptions
from order_processor.engine import OrderEngine
from shared.bus import create_event_bus
from shared.clock import SystemClock
from shared.config import Settings, get_settings
from shared.db import create_engine, create_sessionmaker
from shared.tickstore import tickstore_from_settings

log = logging.getLogger(__name__)


def run(
    settings: Settings,
    *,
    broker: BrokerAdapter | None = None,
    options: ProcessorOptions = DEFAULT_OPTIONS,
) -> None:
    """Run the order processor until it is signalled to stop."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    asyncio.run(serve(settings, broker=broker, options=options))


async def serve(
    settings: Settings,
    *,
    broker: BrokerAdapter | None = None,
    options: ProcessorOptions = DEFAULT_OPTIONS,
    stop: asyncio.Event | None = None,
) -> None:
    """Start the engine on clients built from ``settings``; return once ``stop`` is set."""
    stop = stop if stop is not None else _stop_on_signals()
    db = create_engine(settings)
    bus = create_event_bus(settings)
    tickstore = tickstore_from_settings(settings)
    engine = OrderEngine(
        sessions=create_sessionmaker(db),
        bus=bus,
        clock=SystemClock(),
        tickstore=tickstore,
        broker=broker,
        options=options,
    )
    try:
        await engine.start()
        await stop.wait()
    finally:
        await engine.stop()
        await bus.close()
        await db.dispose()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


if __name__ == "__main__":
    run(get_settings())
