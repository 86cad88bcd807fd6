"""The evaluation use case: closed candles -> signals stored once -> order intents on the stream.

One call handles one burst (the candles that closed together, or one shard of
them): the active subscriptions of those markets come from the per-process
:class:`SubscriptionCache`, windows from the :class:`WindowStore` (backed by
the candle cache), and the pure :class:`Evaluator` computes each unique
(symbol, timeframe, strategy, parameters) once. Signals are stored in one
transaction with insert-if-absent on ``signal_id``; only after the commit are
intents appended to their account's intent stream (``intent_stream``) and signals published on each
user's channel. Running the same burst again stores nothing new and appends
only the intents that have no order yet (``UNIQUE(user_id, client_order_id)``
in the order processor makes even those harmless). A burst that says when its
candles closed is judged by their age first: candles older than
``max_candle_age_bars`` are recorded as skipped and not evaluated.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.alerts import SubscriptionErrorMsg
from shared.bus import EventBus
from shared.candle_cache import CandleCache
from shared.clock import Clock, SystemClock
from shared.contracts import (
    CandleMsg,
    OrderIntent,
    SignalMsg,
    SubscriptionStatus,
    intent_stream,
    user_channel,
)
from shared.db import transaction
from shared.instruments import InstrumentCatalog, load_catalog
from shared.models import StrategySubscription
from shared.outbox import Outbox, Relay
from strategy_workers.evaluation import EvaluationResult, Evaluator, Skipped
from strategy_workers.failures import FailureNotices
from strategy_workers.freshness import skipped_as_stale, split_by_age
from strategy_workers.store import SignalStore
from strategy_workers.subscriptions import SubscriptionCache
from strategy_workers.windows import WindowRequest, WindowStore

log = logging.getLogger(__name__)

APPEND_CHUNK = 500  # intents of one stream per pipelined append


@dataclass(slots=True)
class BatchOutcome:
    """What one burst produced."""

    candles: int = 0
    subscriptions: int = 0
    evaluations: int = 0
    signals: list[SignalMsg] = field(default_factory=list)
    """Signals stored by this run (a re-run stores none)."""
    repeated: int = 0
    """Signals that were already stored (this burst ran before)."""
    intents: list[OrderIntent] = field(default_factory=list)
    """Intents appended to the stream."""
    skipped: list[Skipped] = field(default_factory=list)
    stale: int = 0
    """Candles not evaluated because they were too old when the burst arrived."""
    failures: list[tuple[str, SubscriptionErrorMsg]] = field(default_factory=list)
    """Subscriptions that failed, as the messages that tell their owners."""


class EvaluationService:
    """Evaluates bursts of closed candles against the stored subscriptions; one per process."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        candle_cache: CandleCache,
        subscriptions: SubscriptionCache | None = None,
        evaluator: Evaluator | None = None,
        windows: WindowStore | None = None,
        clock: Clock | None = None,
        catalog: InstrumentCatalog | None = None,
        relay: Relay | None = None,
        max_candle_age_bars: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.relay = relay if relay is not None else Relay(sessions, bus)
        """Sends the signals of committed bursts (the transactional outbox)."""
        self.subscriptions = subscriptions or SubscriptionCache(sessions)
        self.windows = windows or WindowStore(candle_cache)
        self.evaluator = evaluator or Evaluator(lot_size_for=_lot_sizes(catalog))
        self.clock = clock or SystemClock()
        self.max_candle_age_bars = max_candle_age_bars
        self.stale_candles = 0
        """Candles skipped as too old since this service started."""
        self.failure_notices = FailureNotices()

    async def handle(
        self, candles: Sequence[CandleMsg], closed_at: datetime | None = None
    ) -> BatchOutcome:
        """Evaluate a burst and deliver its signals and intents; safe to run again.

        ``closed_at`` is when the candles closed: those too old by now are skipped.
        """
        stale: list[CandleMsg] = []
        if closed_at is not None:
            candles, stale = split_by_age(
                candles, closed_at, self.clock.now(), self.max_candle_age_bars
            )
        result, outcome = await self.evaluate(candles)
        if outcome.failures:
            await self._tell_failures(outcome.failures)
        if stale and closed_at is not None:
            await self._skip_stale(stale, closed_at, outcome)
        if not result.signals:
            return outcome
        signals = await self._record(result, outcome)
        await self._deliver(outcome, signals)
        return outcome

    async def evaluate(self, candles: Sequence[CandleMsg]) -> tuple[EvaluationResult, BatchOutcome]:
        """Everything before storing: subscriptions, windows, strategies (nothing is written)."""
        outcome = BatchOutcome(candles=len(candles))
        markets = {(c.symbol, c.timeframe) for c in candles}
        subs = await self.subscriptions.for_markets(markets)
        outcome.subscriptions = len(subs)
        plan = self.evaluator.plan(candles, subs)
        requests = {m: WindowRequest(plan.bars[m], plan.closed[m]) for m in plan.groups}
        loaded = await self.windows.load(requests) if requests else {}
        result = self.evaluator.execute(plan, self.windows.provider(loaded))
        outcome.evaluations = result.evaluations
        outcome.skipped = result.skipped
        outcome.failures = self.failure_notices.notices(
            result.skipped, subs, plan.closed, self.clock.now()
        )
        return result, outcome

    async def _tell_failures(self, failures: list[tuple[str, SubscriptionErrorMsg]]) -> None:
        """Failed subscriptions, on their owners' channels (the alerts consumer turns them
        into alerts; pub/sub, so a consumer that is down misses them)."""
        try:
            await self.bus.publish_many(failures)
        except Exception:
            log.warning("telling %d subscription failures failed", len(failures), exc_info=True)

    async def _skip_stale(
        self, stale: list[CandleMsg], closed_at: datetime, outcome: BatchOutcome
    ) -> None:
        """Record the subscriptions that would have acted on ``stale`` candles as skipped."""
        age = (self.clock.now() - closed_at).total_seconds()
        subs = await self.subscriptions.for_markets({(c.symbol, c.timeframe) for c in stale})
        outcome.candles += len(stale)
        outcome.stale = len(stale)
        outcome.skipped += skipped_as_stale(stale, subs, age, self.max_candle_age_bars)
        self.stale_candles += len(stale)
        log.warning(
            "skipped %d candles closed %.0f s ago (older than %g bar): %s",
            len(stale),
            age,
            self.max_candle_age_bars,
            ", ".join(sorted({f"{c.symbol} {c.timeframe} {c.end:%H:%M}" for c in stale})[:10]),
        )

    async def _record(self, result: EvaluationResult, outcome: BatchOutcome) -> Outbox:
        """One transaction: store new signals (and their events), find intents still to send."""
        outbox = Outbox()
        async with transaction(self.sessions) as session:
            store = SignalStore(session)
            live = await _live_subscriptions(session, {s.subscription_id for s in result.signals})
            signals = [s for s in result.signals if s.subscription_id in live]
            intents = [i for i in result.intents if i.subscription_id in live]
            by_signal = {_signal_id_of(i): i for i in intents}
            now = self.clock.now()
            rows = [_row(s, by_signal.get(s.signal_id), now) for s in signals]
            inserted = await store.insert_new(rows)
            again = [i for i in intents if _signal_id_of(i) not in inserted]
            placed = await store.placed_orders((i.user_id, i.client_order_id) for i in again)
            for signal in signals:
                if signal.signal_id in inserted:
                    outbox.add(user_channel(signal.user_id), signal)
            await outbox.stage(session, now)
        outcome.signals = [s for s in signals if s.signal_id in inserted]
        outcome.repeated = len(signals) - len(outcome.signals)
        outcome.intents = [
            i
            for i in intents
            if _signal_id_of(i) in inserted or (i.user_id, i.client_order_id) not in placed
        ]
        return outbox

    async def _deliver(self, outcome: BatchOutcome, signals: Outbox) -> None:
        """After commit: intents onto the stream (must arrive; a burst run again resends
        what was not placed), then the signals' events through the relay."""
        # One pipelined call per stream (the intents of a stream keep their order; a burst of
        # hundreds of intents is a round trip per partition, not one per intent).
        by_stream: dict[str, list[OrderIntent]] = {}
        for intent in outcome.intents:
            by_stream.setdefault(intent_stream(intent.broker_account_id), []).append(intent)
        await asyncio.gather(*(self._append(s, intents) for s, intents in by_stream.items()))
        await self.relay.send(signals)

    async def _append(self, stream: str, intents: Sequence[OrderIntent]) -> None:
        for start in range(0, len(intents), APPEND_CHUNK):  # in order
            await self.bus.append_many(stream, intents[start : start + APPEND_CHUNK])


async def _live_subscriptions(session: AsyncSession, ids: set[int]) -> set[int]:
    """Which subscriptions are still active, locked against deletion until commit.

    A subscription deleted or paused while its candle was being evaluated emits
    nothing (and a deleted one would break the signal's foreign key).
    """
    if not ids:
        return set()
    stmt = (
        select(StrategySubscription.id)
        .where(
            StrategySubscription.id.in_(sorted(ids)),
            StrategySubscription.status == SubscriptionStatus.ACTIVE,
        )
        .with_for_update(key_share=True)
    )
    return set((await session.scalars(stmt)).all())


def _signal_id_of(intent: OrderIntent) -> str:
    # Both keys hash the same inputs; only the prefix differs ("sg" / "sig").
    return "sig" + intent.client_order_id.removeprefix("sg")


def _row(signal: SignalMsg, intent: OrderIntent | None, now: Any) -> dict[str, Any]:
    return {
        "signal_id": signal.signal_id,
        "user_id": signal.user_id,
        "subscription_id": signal.subscription_id,
        "strategy": signal.strategy,
        "symbol": signal.symbol,
        "timeframe": signal.timeframe.value,
        "candle_end": signal.candle_end,
        "action": signal.action.value,
        "confidence": signal.confidence,
        "price": signal.price,
        "stop": signal.stop,
        "target": signal.target,
        "reason": signal.reason,
        "client_order_id": intent.client_order_id if intent is not None else None,
        "created_at": now,
    }


def _lot_sizes(catalog: InstrumentCatalog | None) -> Callable[[str], Decimal]:
    chosen = catalog or load_catalog()

    def lot_size(symbol: str) -> Decimal:
        return chosen.get(symbol).lot_size

    return lot_size
