"""The range a request asks for, as moments on the scope's exchange calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from shared.calendar import Calendar, calendar_for
from shared.errors import Unprocessable
from shared.instruments import InstrumentCatalog

from .metrics.periods import day_start

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_DAY = date(2199, 12, 31)


@dataclass(frozen=True, slots=True)
class DateRange:
    """A requested range. Each end is an aware moment, a day (in the time zone of the
    scope's exchange; the ``end`` day is included), or None: from the scope's start, to now.
    """

    start: datetime | date | None = None
    end: datetime | date | None = None


def calendar_for_currency(catalog: InstrumentCatalog, currency: str) -> Calendar:
    """The calendar of the exchanges whose instruments an account in ``currency`` trades."""
    exchanges = sorted({i.exchange for i in catalog if i.currency == currency})
    return calendar_for(exchanges[0] if exchanges else "")


def invalid(message: str, field: str, code: str = "invalid_range") -> Unprocessable:
    return Unprocessable(message, code=code, details=[{"field": field, "message": message}])


def resolve_range(
    when: DateRange, calendar: Calendar, opened_at: datetime, now: datetime
) -> tuple[datetime, datetime]:
    """The range as ``(start, end]`` moments: days at midnight of the exchange's time zone,
    the end no later than now, the start no earlier than the scope's opening."""
    for value, field in ((when.start, "from"), (when.end, "to")):
        if value is not None and not EARLIEST.date() <= _as_date(value) <= LATEST_DAY:
            raise invalid("dates must be between 1970 and 2199", field)
    today = now.astimezone(calendar.tz).date()
    if when.start is None:
        start = opened_at
    elif isinstance(when.start, datetime):
        start = when.start
    else:
        start = day_start(calendar, when.start)
    if when.end is None:
        end = now
    elif isinstance(when.end, datetime):
        end = min(when.end, now)
    else:
        end = now if when.end >= today else day_start(calendar, when.end + timedelta(days=1))
    if start >= now:
        raise invalid("'from' is in the future", "from")
    if when.start is None and start >= end:
        raise invalid(f"'to' is before the opening ({opened_at.isoformat()})", "to")
    if start >= end:
        raise invalid("'from' must be before 'to'", "from")
    if opened_at < end:
        start = max(start, opened_at)
    return start.astimezone(UTC), end.astimezone(UTC)


def _as_date(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value
