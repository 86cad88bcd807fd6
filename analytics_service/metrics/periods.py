"""Daily periods on an exchange calendar: which days a range has, and when each is marked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from shared.calendar import AlwaysOpenCalendar, Calendar

SESSIONS_PER_YEAR = 252
DAYS_PER_YEAR = 365


@dataclass(frozen=True, slots=True)
class Period:
    """One day of the range: its trading day and the moment its equity is marked at."""

    day: date
    end: datetime


def periods_per_year(calendar: Calendar) -> int:
    """252 for an exchange with sessions (NSE, US), 365 for a 24x7 venue (crypto)."""
    return DAYS_PER_YEAR if isinstance(calendar, AlwaysOpenCalendar) else SESSIONS_PER_YEAR


def day_start(calendar: Calendar, day: date) -> datetime:
    """Midnight of ``day`` in the calendar's time zone."""
    return datetime.combine(day, time(0), calendar.tz)


def daily_periods(calendar: Calendar, start: datetime, end: datetime) -> list[Period]:
    """The sessions of ``calendar`` that overlap ``(start, end]``, each marked at its close
    (or at ``end`` when the range ends during it). Days without a session (weekends,
    holidays) are no period: what happens on them counts in the next session."""
    day = start.astimezone(calendar.tz).date()
    last = end.astimezone(calendar.tz).date()
    out: list[Period] = []
    while day <= last:
        bounds = calendar.session_bounds(day)
        if bounds is not None:
            opens, closes = bounds
            if closes > start and opens < end:
                out.append(Period(day, min(closes, end)))
        day += timedelta(days=1)
    return out
