"""Exchange calendars: NSE sessions and holidays, and a 24x7 calendar for crypto.

Holidays come from ``pandas_market_calendars`` (its ``XNSE`` calendar), which is
maintained upstream; extra closures can be passed in (e.g. from settings) for
days announced after the installed release.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
NSE_OPEN = time(9, 15)
NSE_CLOSE = time(15, 30)
MIS_SQUARE_OFF = time(15, 20)


class ExchangeCalendar(Protocol):
    """What the rest of the platform asks of an exchange calendar."""

    name: str

    def is_open(self, ts: datetime) -> bool: ...

    def is_trading_day(self, day: date) -> bool: ...

    def session_bounds(self, day: date) -> tuple[datetime, datetime] | None: ...


@functools.cache
def _nse_holidays() -> frozenset[date]:
    import pandas_market_calendars as mcal  # heavy import, done once on first use

    cal = mcal.get_calendar("XNSE")
    return frozenset(date.fromisoformat(str(d)[:10]) for d in cal.holidays().holidays)


class NSECalendar:
    """NSE equity cash market: 09:15-15:30 IST on weekdays that are not exchange holidays."""

    name = "NSE"
    tz = IST

    def __init__(self, extra_holidays: Iterable[date] = ()) -> None:
        self._extra = frozenset(extra_holidays)

    def is_trading_day(self, day: date) -> bool:
        if day.weekday() >= 5:
            return False
        return day not in self._extra and day not in _nse_holidays()

    def session_bounds(self, day: date) -> tuple[datetime, datetime] | None:
        """Open and close of the session on ``day`` as UTC datetimes, or None on a holiday."""
        if not self.is_trading_day(day):
            return None
        start = datetime.combine(day, NSE_OPEN, IST).astimezone(UTC)
        end = datetime.combine(day, NSE_CLOSE, IST).astimezone(UTC)
        return start, end

    def is_open(self, ts: datetime) -> bool:
        local = ts.astimezone(IST)
        bounds = self.session_bounds(local.date())
        return bounds is not None and bounds[0] <= ts < bounds[1]

    def next_open(self, ts: datetime) -> datetime:
        """The first session open at or after ``ts``."""
        day = ts.astimezone(IST).date()
        for _ in range(30):
            bounds = self.session_bounds(day)
            if bounds is not None and ts < bounds[1]:
                return max(bounds[0], ts) if bounds[0] <= ts else bounds[0]
            day += timedelta(days=1)
        raise RuntimeError("no NSE session within 30 days")


class AlwaysOpenCalendar:
    """Crypto venues: open around the clock, sessions are UTC days."""

    name = "24x7"
    tz = UTC

    def is_trading_day(self, day: date) -> bool:
        return True

    def session_bounds(self, day: date) -> tuple[datetime, datetime] | None:
        start = datetime.combine(day, time(0), UTC)
        return start, start + timedelta(days=1)

    def is_open(self, ts: datetime) -> bool:
        return True


def calendar_for(exchange: str) -> NSECalendar | AlwaysOpenCalendar:
    """The calendar of an exchange code used in the instrument catalog."""
    if exchange.upper() in {"NSE", "BSE"}:
        return NSECalendar()
    return AlwaysOpenCalendar()
