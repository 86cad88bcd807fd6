"""Market status announcements: each exchange's ``MarketStatusMsg`` on ``md:status``.

Published for every exchange at start, then for an exchange whenever its state
changes: a session opens or closes, or its local day turns (a weekend or a holiday
begins). The wait is computed from the calendars and never longer than
``max_wait_s``, so a clock that jumps (or a day that turns) is noticed soon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime

from shared.bus import EventBus
from shared.calendar import calendar_for
from shared.clock import Clock
from shared.contracts import CHANNEL_MARKET_STATUS, MarketStatusMsg
from shared.market_status import market_status, until_next_change

log = logging.getLogger(__name__)

MAX_WAIT_S = 60.0


class MarketStatusPublisher:
    """Announces the market status of ``exchanges`` on the bus as it changes."""

    def __init__(
        self,
        bus: EventBus,
        clock: Clock,
        exchanges: Sequence[str],
        *,
        max_wait_s: float = MAX_WAIT_S,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.exchanges = list(exchanges)
        self.max_wait_s = max_wait_s
        self.published = 0
        self._calendars = [calendar_for(exchange) for exchange in self.exchanges]
        self._last: dict[str, tuple[object, ...]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Publish every exchange's status now (calendars load off the loop), then watch."""
        await self.publish_changes(await asyncio.to_thread(self._statuses, self.clock.now()))
        self._task = asyncio.create_task(self._run(), name="md-market-status")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def publish_changes(self, statuses: Sequence[MarketStatusMsg]) -> list[MarketStatusMsg]:
        """Publish the statuses that differ from the last one published for their exchange."""
        changed = []
        for msg in statuses:
            key = (msg.is_open, msg.reason, msg.trading_day, msg.holiday)
            if self._last.get(msg.exchange) != key:
                self._last[msg.exchange] = key
                changed.append(msg)
        if changed:
            await self.bus.publish_many([(CHANNEL_MARKET_STATUS, msg) for msg in changed])
            self.published += len(changed)
        return changed

    def wait_s(self, now: datetime) -> float:
        """Seconds to sleep before looking again: until the next open or close, capped."""
        ahead = until_next_change(self._calendars, now)
        if ahead is None:
            return self.max_wait_s
        # A moment past the boundary, so the calendar already reads the new state.
        return min(self.max_wait_s, max(ahead.total_seconds(), 0.0) + 0.05)

    async def check(self) -> list[MarketStatusMsg]:
        """Publish what changed since the last look, by the clock's time now."""
        return await self.publish_changes(self._statuses(self.clock.now()))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.wait_s(self.clock.now()))
            try:
                await self.check()
            except Exception:  # a bus hiccup must not end the announcements
                log.exception("publishing the market status failed")

    def _statuses(self, now: datetime) -> list[MarketStatusMsg]:
        return [
            market_status(exchange, now, calendar)
            for exchange, calendar in zip(self.exchanges, self._calendars, strict=True)
        ]
