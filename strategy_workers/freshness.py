"""How old a closed candle may be for a strategy to act on it.

Work can arrive late: a Celery task is delivered again after its worker died (the
broker's visibility timeout, minutes), retried after a dependency failed, or sent after
a bus outage. A signal computed then would trade on a price that has moved on, perhaps
after a newer opposite signal was already filled. So a burst carries when its candles
closed, and a candle older than ``max_age_bars`` of its timeframe at evaluation time is
recorded as skipped, never executed. Pure: no clock of its own, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from shared.contracts import CandleMsg, Timeframe
from strategy_workers.evaluation import Skipped, SubscriptionSpec

BAR_SECONDS: dict[Timeframe, int] = {
    Timeframe.M1: 60,
    Timeframe.M5: 300,
    Timeframe.M15: 900,
    Timeframe.H1: 3_600,
    Timeframe.D1: 86_400,
}
"""One bar of each timeframe, nominally (a session-bounded bar may be shorter)."""


def max_age_seconds(timeframe: Timeframe, max_age_bars: float) -> float:
    """The oldest a candle of ``timeframe`` may be, counted from its close, to be acted on."""
    return max_age_bars * BAR_SECONDS[timeframe]


def split_by_age(
    candles: Sequence[CandleMsg], closed_at: datetime, now: datetime, max_age_bars: float
) -> tuple[list[CandleMsg], list[CandleMsg]]:
    """(young, stale): the candles closed at ``closed_at`` still young enough at ``now``."""
    age = (now - closed_at).total_seconds()
    young: list[CandleMsg] = []
    stale: list[CandleMsg] = []
    for candle in candles:
        too_old = age > max_age_seconds(candle.timeframe, max_age_bars)
        (stale if too_old else young).append(candle)
    return young, stale


def skipped_as_stale(
    stale: Iterable[CandleMsg],
    subscriptions: Iterable[SubscriptionSpec],
    age_seconds: float,
    max_age_bars: float,
) -> list[Skipped]:
    """One ``Skipped`` per subscription and stale candle of a market it trades."""
    markets = {(c.symbol, c.timeframe) for c in stale}
    out: list[Skipped] = []
    for sub in subscriptions:
        for symbol in sub.symbols:
            if (symbol, sub.timeframe) not in markets:
                continue
            limit = max_age_seconds(sub.timeframe, max_age_bars)
            reason = (
                f"stale candle: closed {age_seconds:.0f} s before evaluation, "
                f"over the {limit:.0f} s limit ({max_age_bars:g} bar of {sub.timeframe})"
            )
            out.append(Skipped(sub.id, symbol, reason))
    return out
