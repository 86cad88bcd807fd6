"""Telling a trader their subscription failed: ``SubscriptionErrorMsg`` on their user channel.

A subscription fails when its settings are unusable or its strategy or sizing raises; it
then fails on every candle until someone fixes it, so each (subscription, symbol, reason)
is told at most once per ``quiet`` by this process. The event id is derived from the
subscription, symbol, candle and reason: a burst evaluated again (a redelivered task)
tells the same event, which the alerts consumer drops.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from shared.alerts import SubscriptionErrorMsg
from shared.contracts import CandleMsg, Timeframe, user_channel
from strategy_workers.evaluation import Skipped, SubscriptionSpec

KEPT = 10_000


class FailureNotices:
    """Turns the failed skips of a burst into the messages to publish."""

    def __init__(self, quiet: timedelta = timedelta(hours=1)) -> None:
        self.quiet = quiet
        self._told: OrderedDict[tuple[int, str, str], datetime] = OrderedDict()

    def notices(
        self,
        skipped: Iterable[Skipped],
        subscriptions: Iterable[SubscriptionSpec],
        closed: Mapping[tuple[str, Timeframe], CandleMsg],
        now: datetime,
    ) -> list[tuple[str, SubscriptionErrorMsg]]:
        failed = [s for s in skipped if s.error]
        if not failed:
            return []
        specs = {sub.id: sub for sub in subscriptions}
        out: list[tuple[str, SubscriptionErrorMsg]] = []
        for skip in failed:
            sub = specs.get(skip.subscription_id)
            candle = None if sub is None else closed.get((skip.symbol, sub.timeframe))
            if sub is None or candle is None:
                continue
            key = (sub.id, skip.symbol, skip.reason)
            last = self._told.get(key)
            if last is not None and now - last < self.quiet:
                continue
            self._remember(key, now)
            raw = f"{sub.id}|{skip.symbol}|{candle.end.isoformat()}|{skip.reason}".encode()
            message = SubscriptionErrorMsg(
                event_id="suberr-" + hashlib.blake2b(raw, digest_size=12).hexdigest(),
                user_id=sub.user_id,
                subscription_id=sub.id,
                symbol=skip.symbol,
                reason=skip.reason[:1000],
                ts=candle.end,
            )
            out.append((user_channel(sub.user_id), message))
        return out

    def _remember(self, key: tuple[int, str, str], now: datetime) -> None:
        self._told[key] = now
        self._told.move_to_end(key)
        while len(self._told) > KEPT:
            self._told.popitem(last=False)
