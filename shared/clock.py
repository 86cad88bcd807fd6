"""Clocks: wall time for live services, an event-driven clock for replays and backtests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class EventClock:
    """A clock driven by event timestamps: it only moves when told, and never backwards.

    Replays and backtests advance it from tick timestamps so that the same ticks
    produce the same candles, signals, orders and fills as live trading.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(1970, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance_to(self, ts: datetime) -> None:
        """Move the clock to ``ts`` unless that would move it backwards."""
        if ts.tzinfo is None:
            raise ValueError("EventClock needs timezone-aware datetimes")
        if ts > self._now:
            self._now = ts
