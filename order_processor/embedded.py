"""The order processor inside the one-process runner (embedded profile)."""

from __future__ import annotations

from order_processor.brokers.base import BrokerAdapter
from order_processor.config import DEFAULT_OPTIONS, ProcessorOptions
from order_processor.engine import OrderEngine
from shared.runtime import Runtime


async def start(
    runtime: Runtime,
    *,
    broker: BrokerAdapter | None = None,
    options: ProcessorOptions = DEFAULT_OPTIONS,
) -> OrderEngine:
    """Start the engine on the runtime's clients; ``await engine.stop()`` to stop it.

    The gateway in the same process must share ``runtime.bus`` (POST /orders
    appends to the intent stream this engine consumes).
    """
    engine = OrderEngine.from_runtime(runtime, broker=broker, options=options)
    await engine.start()
    return engine
