"""``algotrade serve market-data``: the market data engine as its own process.

Closed candles are handed to the strategy workers as Celery tasks (by name, one
per shard of symbols) on the Redis broker. Each task is recorded in the evaluation
ledger before it is sent, and a sweeper sends again those that never finished
(``shared.task_ledger``, ``market_data_engine.redispatch``).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from celery import Celery

from market_data_engine.backfill import warm_candle_cache
from market_data_engine.candles.engine import ClosedCandles
from market_data_engine.factory import build_service
from market_data_engine.redispatch import Redispatcher
from market_data_engine.status import MarketStatusPublisher
from shared.bus import create_event_bus
from shared.candle_cache import candle_cache_from_settings
from shared.clock import SystemClock
from shared.config import Settings
from shared.db import create_engine, create_sessionmaker
from shared.instruments import load_catalog
from shared.market_status import exchanges_of
from shared.probe_server import ProbeServer, tickstore_sampler
from shared.readiness import bus_checks, redis_url_check, tickstore_checks
from shared.runtime import Runtime, freeze_startup_heap
from shared.task_ledger import ledger_from_settings
from shared.tasks import TaskRouting, broker_url, dispatch_candles
from shared.tickstore import tickstore_from_settings

log = logging.getLogger(__name__)


async def start_probe(settings: Settings, runtime: Runtime) -> ProbeServer | None:
    """/health, /ready and /metrics on ALGOTRADE_MARKET_DATA_PROBE_PORT (0: none)."""
    if not settings.market_data_probe_port:
        return None
    checks = {
        **tickstore_checks(runtime.tickstore),
        **bus_checks(runtime.bus),
        "celery broker": redis_url_check(broker_url(settings)),
    }
    probe = ProbeServer(
        settings.probe_host,
        settings.market_data_probe_port,
        service="market-data",
        checks=checks,
        samplers=(tickstore_sampler(runtime.tickstore),),
        timeout_s=settings.ready_timeout_seconds,
    )
    await probe.start()
    return probe


def run(settings: Settings) -> None:
    asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    engine = create_engine(settings)
    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=create_sessionmaker(engine),
        bus=create_event_bus(settings),
        tickstore=tickstore_from_settings(settings),
        candle_cache=candle_cache_from_settings(settings),
        clock=SystemClock(),
    )
    sender = Celery("market_data_engine", broker=broker_url(settings), set_as_current=False)
    ledger = ledger_from_settings(settings)
    redispatcher = Redispatcher(sender, ledger, every=settings.evaluation_redispatch_every_seconds)

    routing = TaskRouting()  # the queue and shards the strategy workers are set up with

    async def to_workers(candles: ClosedCandles) -> None:
        # When they closed travels with the task: a worker skips candles delivered too late.
        # Recorded in the ledger before it is sent: a task a worker loses is sent again.
        await asyncio.to_thread(
            dispatch_candles,
            sender,
            candles,
            routing.shards,
            queue=routing.queue,
            closed_at=candles.closed_at,
            ledger=ledger,
        )

    service = await build_service(runtime, on_candles=to_workers)
    try:  # strategy windows are read from the cache: give it the stored history
        await warm_candle_cache(runtime.tickstore, runtime.candle_cache, service.feed.symbols)
    except Exception:
        log.exception(
            "filling the candle cache from the tick store failed (it fills as they close)"
        )
    await service.start()
    redispatcher.start()
    catalog = await asyncio.to_thread(load_catalog)
    status = MarketStatusPublisher(runtime.bus, runtime.clock, exchanges_of(catalog))
    await status.start()
    probe = await start_probe(settings, runtime)
    freeze_startup_heap()  # GC tuning lives here, in the entry point, never in a service
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("market data engine running (feed %s)", settings.feed)
    await stop.wait()
    if probe is not None:
        await probe.stop()
    await status.stop()
    await service.stop()
    await redispatcher.stop()
    ledger.redis.close()
    await runtime.tickstore.close()
    await runtime.bus.close()
    await engine.dispose()
