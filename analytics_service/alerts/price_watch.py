"""The price alert watcher: a consumer of ticks of its own, off the market data path.

It holds the active price alerts in a ``PriceIndex``, reads ticks from its own bounded
bus subscription (a watcher that falls behind drops the oldest ticks; the market data
engine never waits for it, and a crossing is still seen on the next tick, since the
index compares each tick with the last one it saw), and writes what triggered:
an alert per trigger, and the price alert's ``last_triggered_at`` (a ``once`` alert is
switched off). The index follows the table: every ``reload_s`` it looks whether the
active alerts changed (their count and newest ``updated_at``) and syncs if so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics_service.alerts import rules
from analytics_service.alerts.consumer import OnRecorded
from analytics_service.alerts.price import PriceIndex, PriceRule, Trigger
from analytics_service.alerts.store import Recorded, push, record
from shared.alerts import PriceCondition, PriceRepeat
from shared.bus import EventBus, Subscription
from shared.clock import Clock
from shared.contracts import TickMsg
from shared.db import transaction
from shared.models import PriceAlert

log = logging.getLogger(__name__)

TICK_PATTERN = "md:ticks:*"


def rule_of(row: PriceAlert) -> PriceRule:
    return PriceRule(
        id=row.id,
        user_id=row.user_id,
        symbol=row.symbol,
        condition=PriceCondition(row.condition),
        price=None if row.price is None else float(row.price),
        percent=None if row.percent is None else float(row.percent),
        window_minutes=row.window_minutes,
        repeat=PriceRepeat(row.repeat),
        note=row.note,
    )


class PriceWatcher:
    """Evaluates price alerts on ticks; ``start``/``stop`` run it on the bus."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus | None,
        clock: Clock,
        *,
        on_recorded: OnRecorded | None = None,
        reload_s: float = 2.0,
        max_queue: int = 50_000,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.clock = clock
        self.on_recorded = on_recorded
        self.reload_s = reload_s
        self.max_queue = max_queue
        self.index = PriceIndex()
        self.triggered = 0
        self._version: tuple[int, datetime | None] | None = None
        self._spent: set[int] = set()  # once-alerts triggered, until the table says inactive
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        assert self.bus is not None
        await self.reload(force=True)
        self._subscription = await self.bus.subscribe([], [TICK_PATTERN], maxsize=self.max_queue)
        self._tasks = [
            asyncio.create_task(self._pump(), name="price-alerts"),
            asyncio.create_task(self._reloader(), name="price-alerts-reload"),
        ]

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def dropped(self) -> int:
        """Ticks dropped because the watcher fell behind."""
        return 0 if self._subscription is None else self._subscription.dropped

    async def reload(self, *, force: bool = False) -> bool:
        """Sync the index with the active price alerts if they changed; True if it synced."""
        async with self.sessions() as session:
            count, newest = (
                await session.execute(
                    select(func.count(PriceAlert.id), func.max(PriceAlert.updated_at)).where(
                        PriceAlert.active.is_(True)
                    )
                )
            ).one()
            version = (int(count), newest)
            if not force and version == self._version:
                return False
            rows = (
                await session.scalars(select(PriceAlert).where(PriceAlert.active.is_(True)))
            ).all()
        self._version = version
        fresh = {row.id: rule_of(row) for row in rows}
        self._spent &= set(fresh)
        for rule_id in [r.id for r in self.index.rules() if r.id not in fresh]:
            self.index.remove(rule_id)
        held = {r.id: r for r in self.index.rules()}
        for rule_id, rule in fresh.items():
            if rule_id not in self._spent and held.get(rule_id) != rule:
                self.index.add(rule)
        return True

    def evaluate(self, tick: TickMsg) -> list[Trigger]:
        """The triggers of one tick (synchronous, no I/O)."""
        fired = self.index.on_tick(tick.symbol, tick.price, tick.ts)
        for trigger in fired:
            if trigger.rule.repeat is PriceRepeat.ONCE:
                self._spent.add(trigger.rule.id)
        return fired

    async def _pump(self) -> None:
        sub = self._subscription
        assert sub is not None
        async for _, first in sub:
            fired: list[Trigger] = []
            message = first
            while True:
                if isinstance(message, TickMsg):
                    fired.extend(self.evaluate(message))
                if not sub.qsize():
                    break
                got = await sub.get(0)
                if got is None:
                    break
                message = got[1]
            if fired:
                try:
                    await self.write(fired)
                except Exception:
                    log.exception("%d price alert triggers were not recorded", len(fired))

    async def _reloader(self) -> None:
        while True:
            await asyncio.sleep(self.reload_s)
            try:
                await self.reload()
            except Exception:
                log.warning("price alerts not reloaded", exc_info=True)

    async def write(self, fired: Sequence[Trigger]) -> list[Recorded]:
        """Store the alerts of these triggers and mark their price alerts triggered."""
        drafts = [
            rules.price_alert(
                t.rule.user_id, t.rule.id, t.rule.symbol, t.description, t.price, t.ts, t.rule.note
            )
            for t in fired
        ]
        async with transaction(self.sessions) as session:
            recorded = await record(session, drafts, self.clock.now())
            for t in fired:
                values: dict[str, object] = {
                    "last_triggered_at": t.ts,
                    "last_triggered_price": Decimal(repr(t.price)),
                    "trigger_count": PriceAlert.trigger_count + 1,
                    "updated_at": self.clock.now(),
                }
                if t.rule.repeat is PriceRepeat.ONCE:
                    values["active"] = False
                await session.execute(
                    update(PriceAlert).where(PriceAlert.id == t.rule.id).values(**values)
                )
        self.triggered += len(fired)
        if recorded:
            await push(self.bus, recorded)
            if self.on_recorded is not None:
                await self.on_recorded(recorded)
        return recorded
