"""Whether a feed is delivering: ``FeedStatusMsg`` when it goes stale and when it is back.

Pure: no bus, no I/O. A feed is stale when no valid tick has arrived for ``stale_after``
while a market of its symbols is open (a closed market is quiet, not stale); the next
tick makes it back. Each change is told once: a stale feed is not told stale again until
it has been back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from shared.alerts import FeedStatusMsg
from shared.calendar import ExchangeCalendar

MAX_SYMBOLS_TOLD = 50

IsOpen = Callable[[datetime], bool]


class FeedWatch:
    """Follows one feed's ticks; ``on_ticks`` and ``check`` return the message to publish."""

    def __init__(
        self,
        feed: str,
        symbols: Sequence[str],
        stale_after: timedelta,
        started: datetime,
        *,
        is_open: IsOpen | None = None,
    ) -> None:
        self.feed = feed
        self.symbols = list(symbols)[:MAX_SYMBOLS_TOLD]
        self.stale_after = stale_after
        self.is_open = is_open
        self.last_tick = started
        self.stale = False

    def on_ticks(self, now: datetime) -> FeedStatusMsg | None:
        """Valid ticks arrived at ``now``: the "back" message if the feed was stale."""
        self.last_tick = now
        if not self.stale:
            return None
        self.stale = False
        return self._message("back", now, "ticks arrive again")

    def check(self, now: datetime) -> FeedStatusMsg | None:
        """The "stale" message if the feed has just gone quiet for too long, else None."""
        if self.stale or now - self.last_tick < self.stale_after:
            return None
        if self.is_open is not None and not self.is_open(now):
            return None
        self.stale = True
        quiet = int((now - self.last_tick).total_seconds())
        return self._message("stale", now, f"no ticks for {quiet} s while the market is open")

    def _message(
        self, state: Literal["stale", "back"], now: datetime, detail: str
    ) -> FeedStatusMsg:
        return FeedStatusMsg(
            feed=self.feed,
            state=state,
            symbols=self.symbols,
            detail=detail,
            ts=now,
        )


def any_market_open(calendars: Iterable[ExchangeCalendar]) -> IsOpen:
    """``is_open`` for a feed whose symbols trade on these calendars."""
    held = list({id(c): c for c in calendars}.values())

    def is_open(now: datetime) -> bool:
        return any(c.is_open(now) for c in held)

    return is_open
