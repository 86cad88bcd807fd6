"""The active subscriptions of every user, cached per worker process and indexed by market.

Loaded from the database in full on first use; every ``refresh_seconds`` the
ids and change times of all active subscriptions are compared with the cache
and what changed is reloaded (so a missed control event heals within that
time); a ``subscription_changed`` control event reloads just that subscription
before the next candle. Only
subscriptions that are ``active``, on an active broker account of an active
user, are evaluated.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal, TypeVarTuple, cast

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.contracts import SubscriptionStatus, Timeframe
from shared.models import BrokerAccount, StrategySubscription, User
from strategy_workers.evaluation import SubscriptionSpec

log = logging.getLogger(__name__)

DEFAULT_REFRESH_SECONDS = 30.0

Market = tuple[str, Timeframe]
Ts = TypeVarTuple("Ts")


class SubscriptionCache:
    """Active subscriptions by (symbol, timeframe); invalidated by control events."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._specs: dict[int, SubscriptionSpec] | None = None
        self._stamps: dict[int, datetime] = {}
        self._index: dict[Market, list[SubscriptionSpec]] = {}
        self._checked_at = 0.0
        self._stale = False
        self._dirty: set[int] = set()
        self.full_loads = 0
        self.syncs = 0
        self.partial_loads = 0

    def invalidate(self, subscription_id: int | None = None) -> None:
        """Reload ``subscription_id`` (or check every one, when None) before the next lookup."""
        if subscription_id is None:
            self._stale = True
        else:
            self._dirty.add(subscription_id)

    async def for_markets(self, markets: Iterable[Market]) -> list[SubscriptionSpec]:
        """The active subscriptions trading any of ``markets`` (each once)."""
        await self.refresh()
        found: dict[int, SubscriptionSpec] = {}
        for market in markets:
            for spec in self._index.get(market, ()):
                found.setdefault(spec.id, spec)
        return list(found.values())

    async def refresh(self) -> None:
        """Apply pending invalidations; when due, check every subscription for changes.

        The periodic check reads only ids and change times, and reloads what
        changed, so it stays cheap with many subscriptions.
        """
        # Flags are cleared before awaiting: an event arriving during a load marks
        # the cache again and is applied on the next lookup, never lost.
        if self._specs is None:
            await self._load_all()
        elif self._stale or self._monotonic() - self._checked_at >= self._refresh_seconds:
            await self._sync()
        if self._dirty:
            await self._load_some()

    async def _load_all(self) -> None:
        self._stale = False
        self._dirty.clear()
        started = self._monotonic()
        async with self._sessions() as session:
            rows = await _active(session, _query())
        self._specs, self._index, self._stamps = {}, {}, {}
        for spec, stamp in rows:
            self._put(spec, stamp)
        self._checked_at = started
        self.full_loads += 1

    async def _sync(self) -> None:
        assert self._specs is not None
        self._stale = False
        started = self._monotonic()
        try:
            async with self._sessions() as session:
                result = await session.execute(_stamps_query())
                current = {sub_id: stamp for sub_id, stamp in result.all()}
        except BaseException:
            self._stale = True
            raise
        for sub_id in [i for i in self._specs if i not in current]:
            self._drop(sub_id)
        self._dirty.update(i for i, stamp in current.items() if self._stamps.get(i) != stamp)
        self._checked_at = started
        self.syncs += 1

    async def _load_some(self) -> None:
        assert self._specs is not None
        ids, self._dirty = sorted(self._dirty), set()
        try:
            async with self._sessions() as session:
                rows = await _active(session, _query().where(StrategySubscription.id.in_(ids)))
        except BaseException:
            self._dirty.update(ids)
            raise
        for sub_id in ids:
            self._drop(sub_id)
        for spec, stamp in rows:
            self._put(spec, stamp)
        self.partial_loads += 1

    def _put(self, spec: SubscriptionSpec, stamp: datetime) -> None:
        assert self._specs is not None
        self._specs[spec.id] = spec
        self._stamps[spec.id] = stamp
        for symbol in spec.symbols:
            self._index.setdefault((symbol, spec.timeframe), []).append(spec)

    def _drop(self, sub_id: int) -> None:
        assert self._specs is not None
        spec = self._specs.pop(sub_id, None)
        self._stamps.pop(sub_id, None)
        if spec is None:
            return
        for symbol in spec.symbols:
            market = (symbol, spec.timeframe)
            remaining = [s for s in self._index.get(market, ()) if s.id != sub_id]
            if remaining:
                self._index[market] = remaining
            else:
                self._index.pop(market, None)

    def __len__(self) -> int:
        return len(self._specs or {})


def _active_filter(stmt: Select[*Ts]) -> Select[*Ts]:
    return (
        stmt.join(BrokerAccount, BrokerAccount.id == StrategySubscription.broker_account_id)
        .join(User, User.id == StrategySubscription.user_id)
        .where(
            StrategySubscription.status == SubscriptionStatus.ACTIVE,
            BrokerAccount.is_active.is_(True),
            User.is_active.is_(True),
        )
    )


def _stamps_query() -> Select[int, datetime]:
    return _active_filter(select(StrategySubscription.id, StrategySubscription.updated_at))


def _query() -> Select[StrategySubscription]:
    return _active_filter(select(StrategySubscription))


async def _active(
    session: AsyncSession, stmt: Select[StrategySubscription]
) -> Sequence[tuple[SubscriptionSpec, datetime]]:
    """Evaluator specs of the rows, with the change time each was read at."""
    specs = []
    for row in (await session.scalars(stmt)).all():
        spec = to_spec(row)
        if spec is not None:
            specs.append((spec, row.updated_at))
    return specs


def to_spec(row: StrategySubscription) -> SubscriptionSpec | None:
    """The evaluator's view of a stored subscription (None, logged, if it cannot be read)."""
    try:
        timeframe = Timeframe(row.timeframe)
    except ValueError:
        log.error("subscription %s has an unknown timeframe %r", row.id, row.timeframe)
        return None
    params = row.params or {}
    sizing = row.sizing_params or {}
    return SubscriptionSpec(
        id=row.id,
        user_id=row.user_id,
        broker_account_id=row.broker_account_id,
        strategy=row.strategy,
        params=params,
        symbols=tuple(row.symbols or ()),
        timeframe=timeframe,
        sizing_method=row.sizing_method,
        sizing_params=sizing,
        capital=Decimal(row.capital_allocation),
        mode=cast(Literal["paper", "live"], row.mode if row.mode == "live" else "paper"),
    )
