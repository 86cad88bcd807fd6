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

from sqlalchemy.ext.asyncio import AsyncEngine

from order_processor.brokers.base import BrokerAdapter
from order_processor.config import DEFAULT_OPTIONS, ProcessorOptions
from order_processor.engine import OrderEngine
from shared.bus import EventBus, create_event_bus
from shared.clock import SystemClock
from shared.config import Settings, get_settings
from shared.contracts import GROUP_ORDER_PROCESSOR, ORDER_STREAMS
from shared.db import create_engine, create_sessionmaker
from shared.probe_server import ProbeServer, stream_sampler
from shared.readiness import bus_checks, database_check, tickstore_checks
from shared.runtime import tune_collector
from shared.tickstore import TickStore, tickstore_from_settings

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
    asyncio.run(serve(settings, broker=broker, options=options, tune_gc=True))


async def serve(
    settings: Settings,
    *,
    broker: BrokerAdapter | None = None,
    options: ProcessorOptions = DEFAULT_OPTIONS,
    stop: asyncio.Event | None = None,
    tune_gc: bool = False,
) -> None:
    """Start the engine on clients built from ``settings``; return once ``stop`` is set.

    ``tune_gc``: tune the collector once started (``shared.runtime.tune_collector``);
    the process's entry point (``run``) asks for it, a caller embedding this does not.
    """
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
    probe = _probe(settings, db, bus, tickstore)
    try:
        await engine.start()
        if probe is not None:
            await probe.start()
        if tune_gc:
            tune_collector()
        await stop.wait()
    finally:
        if probe is not None:
            await probe.stop()
        await engine.stop()
        await bus.close()
        await db.dispose()


def _probe(
    settings: Settings, db: AsyncEngine, bus: EventBus, tickstore: TickStore
) -> ProbeServer | None:
    """/health, /ready and /metrics on ALGOTRADE_ORDER_PROCESSOR_PROBE_PORT (0: none)."""
    if not settings.order_processor_probe_port:
        return None
    return ProbeServer(
        settings.probe_host,
        settings.order_processor_probe_port,
        service="order-processor",
        checks={"database": database_check(db), **bus_checks(bus), **tickstore_checks(tickstore)},
        samplers=(stream_sampler(bus, ORDER_STREAMS, GROUP_ORDER_PROCESSOR),),
        timeout_s=settings.ready_timeout_seconds,
    )


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


if __name__ == "__main__":
    run(get_settings())
