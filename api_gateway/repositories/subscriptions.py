"""Subscriptions and their signals, reachable only through the owning user's repositories."""

from __future__ import annotations

from shared.models import SignalRecord, StrategySubscription
from shared.repository import Page, UserScopedRepository, paginate


class SubscriptionRepository(UserScopedRepository[StrategySubscription]):
    model = StrategySubscription
    not_found_message = "subscription not found"


class SignalRepository(UserScopedRepository[SignalRecord]):
    model = SignalRecord
    not_found_message = "signal not found"

    async def search(
        self,
        limit: int,
        offset: int,
        *,
        subscription_id: int | None = None,
        symbol: str | None = None,
    ) -> Page[SignalRecord]:
        """Newest candle first."""
        where = []
        if subscription_id is not None:
            where.append(SignalRecord.subscription_id == subscription_id)
        if symbol is not None:
            where.append(SignalRecord.symbol == symbol)
        stmt = (
            self._scoped()
            .where(*where)
            .order_by(SignalRecord.candle_end.desc(), SignalRecord.id.desc())
        )
        return await paginate(self.session, stmt, limit, offset)
