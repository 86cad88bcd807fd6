"""Strategy evaluation inside the one-process platform (embedded profile).

Closed candles arrive on the bus (``md:candles:*``); the candles that close
together (every symbol at the minute boundary, and the higher timeframes with
them) are gathered for a few milliseconds and evaluated as one burst, so
identical computations are shared and the database sees one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from shared.bus import Subscription
from shared.contracts import CHANNEL_CANDLES, CandleMsg
from shared.runtime import Runtime
from strategy_workers.control import ControlListener
from strategy_workers.service import EvaluationService
from strategy_workers.subscriptions import DEFAULT_REFRESH_SECONDS, SubscriptionCache

log = logging.getLogger(__name__)

CANDLE_PATTERN = CHANNEL_CANDLES.split("{", 1)[0] + "*"  # md:candles:*
BATCH_WINDOW = 0.005  # seconds to keep gathering once a burst's first candle arrived
MAX_BATCH = 50_000
QUEUE_SIZE = 200_000  # a burst of every symbol and timeframe must fit without drops
ATTEMPTS = 3


class EmbeddedStrategyWorker:
    """Consumes closed candles from the bus and evaluates them in this process."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        service: EvaluationService | None = None,
        batch_window: float = BATCH_WINDOW,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    ) -> None:
        self.runtime = runtime
        self.service = service or EvaluationService(
            sessions=runtime.sessions,
            bus=runtime.bus,
            candle_cache=runtime.candle_cache,
            subscriptions=SubscriptionCache(runtime.sessions, refresh_seconds=refresh_seconds),
            clock=runtime.clock,
            max_candle_age_bars=runtime.settings.strategy_max_candle_age_bars,
        )
        self.batch_window = batch_window
        self.control = ControlListener(runtime.bus, self.service.subscriptions)
        self.bursts = 0
        self.failed_bursts = 0
        self._candles: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._relay: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe to control events and candles; returns once both are live."""
        await self.control.start()
        self._candles = await self.runtime.bus.subscribe([], [CANDLE_PATTERN], maxsize=QUEUE_SIZE)
        self._task = asyncio.create_task(self._run(self._candles), name="strategy-embedded")
        self._relay = asyncio.create_task(self.service.relay.run(), name="strategy-outbox")

    async def stop(self) -> None:
        """Stop consuming; a burst being evaluated finishes first."""
        if self._relay is not None:
            self._relay.cancel()
            await asyncio.gather(self._relay, return_exceptions=True)
        if self._candles is not None:
            await self._candles.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.control.stop()

    async def _run(self, sub: Subscription) -> None:
        while True:
            burst = await self._gather(sub)
            if not burst:
                return
            # The in-process bus hands candles over as they close: their age counts from
            # when the burst is taken, so a burst retried for too long is skipped.
            await self._evaluate(burst, self.runtime.clock.now())

    async def _gather(self, sub: Subscription) -> list[CandleMsg]:
        """The next burst: the first candle, and whatever follows within the batch window."""
        burst: list[CandleMsg] = []
        first = await sub.get()
        if first is None:
            return burst
        _add(burst, first[1])
        deadline = asyncio.get_running_loop().time() + self.batch_window
        while len(burst) < MAX_BATCH:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 and not sub.qsize():
                break
            item = await sub.get(max(remaining, 0.0))
            if item is None:
                break
            _add(burst, item[1])
        return burst

    async def _evaluate(self, burst: list[CandleMsg], closed_at: datetime) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                await self.service.handle(burst, closed_at)
                self.bursts += 1
                return
            except Exception:
                # Running a burst again is safe (signals are stored once), so retry a
                # passing fault (a locked database, a bus reconnecting) a few times.
                log.exception("evaluating %d candles failed (attempt %d)", len(burst), attempt)
                await asyncio.sleep(0.05 * 2**attempt)
        self.failed_bursts += 1


def _add(burst: list[CandleMsg], message: object) -> None:
    if isinstance(message, CandleMsg):
        burst.append(message)


async def start(
    runtime: Runtime,
    *,
    batch_window: float = BATCH_WINDOW,
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
) -> EmbeddedStrategyWorker:
    """Start evaluating closed candles from ``runtime.bus`` in this process."""
    worker = EmbeddedStrategyWorker(
        runtime, batch_window=batch_window, refresh_seconds=refresh_seconds
    )
    await worker.start()
    return worker
