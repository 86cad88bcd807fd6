"""Exchange calendars: NSE and US equity sessions and holidays, and 24x7 for crypto.

Holidays (and US early closes) come from ``pandas_market_calendars`` (its ``XNSE``
and ``XNYS`` calendars), which is maintained upstream; extra closures can be passed
in (e.g. from settings) for days announced after the installed release. Holiday
names: NYSE's from the same package, NSE's from ``shared/data/nse_holidays.csv``
(NSE's published list of trading holidays); a closure without a known name is an
"exchange holiday".
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
UNNAMED_HOLIDAY = "exchange holiday"
NSE_HOLIDAY_NAMES_PATH = Path(__file__).resolve().parent / "data" / "nse_holidays.csv"
_SEARCH_DAYS = 30  # no exchange here closes for longer
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


@functools.cache
def _nse_holiday_names() -> dict[date, str]:
    with NSE_HOLIDAY_NAMES_PATH.open(newline="", encoding="utf-8") as fh:
        return {date.fromisoformat(row["date"]): row["name"] for row in csv.DictReader(fh)}


@functools.cache
def _us_holiday_names(year: int) -> dict[date, str]:
    import pandas_market_calendars as mcal

    rules = mcal.get_calendar("XNYS").regular_holidays
    named = rules.holidays(f"{year}-01-01", f"{year}-12-31", return_name=True)
    return {day.date(): str(name) for day, name in named.items()}


@functools.cache
def _us_sessions(year: int) -> dict[date, tuple[datetime, datetime]]:
    """NYSE sessions of ``year`` (holidays absent, early closes shortened), UTC bounds."""
    import pandas_market_calendars as mcal

    schedule = mcal.get_calendar("XNYS").schedule(f"{year}-01-01", f"{year}-12-31")
    return {
        day.date(): (row.market_open.to_pydatetime(), row.market_close.to_pydatetime())
        for day, row in schedule.iterrows()
    }


class SessionHoursCalendar:
    """An exchange with one session per trading day between local opening and closing times.

    Subclasses name the exchange, its time zone and hours, and where the trading days
    (and any shortened sessions) come from; ``extra_holidays`` adds closures announced
    after the installed calendar data.
    """

    name: str
    tz: ZoneInfo
    opens: time
    closes: time

    def __init__(self, extra_holidays: Iterable[date] = ()) -> None:
        self._extra = frozenset(extra_holidays)

    @property
    def session_seconds(self) -> int:
        """Length of a regular session."""
        day = date(2000, 1, 3)
        span = datetime.combine(day, self.closes) - datetime.combine(day, self.opens)
        return int(span.total_seconds())

    def is_trading_day(self, day: date) -> bool:
        return day not in self._extra and self._bounds(day) is not None

    def session_bounds(self, day: date) -> tuple[datetime, datetime] | None:
        """Open and close of the session on ``day`` as UTC datetimes, or None without one."""
        if day in self._extra:
            return None
        return self._bounds(day)

    def _bounds(self, day: date) -> tuple[datetime, datetime] | None:
        raise NotImplementedError

    def _regular(self, day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, self.opens, self.tz).astimezone(UTC)
        return start, datetime.combine(day, self.closes, self.tz).astimezone(UTC)

    def is_open(self, ts: datetime) -> bool:
        local = ts.astimezone(self.tz)
        bounds = self.session_bounds(local.date())
        return bounds is not None and bounds[0] <= ts < bounds[1]

    def next_open(self, ts: datetime) -> datetime:
        """The first session open at or after ``ts`` (``ts`` itself inside a session)."""
        day = ts.astimezone(self.tz).date()
        for _ in range(_SEARCH_DAYS):
            bounds = self.session_bounds(day)
            if bounds is not None and ts < bounds[1]:
                return max(bounds[0], ts) if bounds[0] <= ts else bounds[0]
            day += timedelta(days=1)
        raise RuntimeError(f"no {self.name} session within {_SEARCH_DAYS} days")

    def next_session(self, ts: datetime) -> tuple[datetime, datetime]:
        """The first session that opens after ``ts``."""
        day = ts.astimezone(self.tz).date()
        for _ in range(_SEARCH_DAYS):
            bounds = self.session_bounds(day)
            if bounds is not None and bounds[0] > ts:
                return bounds
            day += timedelta(days=1)
        raise RuntimeError(f"no {self.name} session within {_SEARCH_DAYS} days")

    def last_session(self, ts: datetime) -> tuple[datetime, datetime]:
        """The latest session that opened at or before ``ts`` (the one under way, if any)."""
        day = ts.astimezone(self.tz).date()
        for _ in range(_SEARCH_DAYS):
            bounds = self.session_bounds(day)
            if bounds is not None and bounds[0] <= ts:
                return bounds
            day -= timedelta(days=1)
        raise RuntimeError(f"no {self.name} session in the {_SEARCH_DAYS} days before {ts}")

    def holiday_name(self, day: date) -> str | None:
        """The name of the holiday that closes the exchange on ``day``; None on a weekend
        or a trading day."""
        if day.weekday() >= 5 or self.is_trading_day(day):
            return None
        if day in self._extra:
            return UNNAMED_HOLIDAY
        return self._holiday_name(day) or UNNAMED_HOLIDAY

    def _holiday_name(self, day: date) -> str | None:
        return None


class NSECalendar(SessionHoursCalendar):
    """NSE equity cash market: 09:15-15:30 IST on weekdays that are not exchange holidays."""

    name = "NSE"
    tz = IST
    opens = NSE_OPEN
    closes = NSE_CLOSE

    def _bounds(self, day: date) -> tuple[datetime, datetime] | None:
        if day.weekday() >= 5 or day in _nse_holidays():
            return None
        return self._regular(day)

    def _holiday_name(self, day: date) -> str | None:
        return _nse_holiday_names().get(day)


class USEquityCalendar(SessionHoursCalendar):
    """NYSE and NASDAQ regular hours: 09:30-16:00 New York time, NYSE holidays and early
    closes (13:00 on some eves of holidays); pre- and post-market hours are not sessions."""

    name = "US"
    tz = ZoneInfo("America/New_York")
    opens = time(9, 30)
    closes = time(16, 0)

    def _bounds(self, day: date) -> tuple[datetime, datetime] | None:
        if day.weekday() >= 5:
            return None
        return _us_sessions(day.year).get(day)

    def _holiday_name(self, day: date) -> str | None:
        return _us_holiday_names(day.year).get(day)


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

    def last_session(self, ts: datetime) -> tuple[datetime, datetime]:
        """The UTC day of ``ts``."""
        bounds = self.session_bounds(ts.astimezone(UTC).date())
        assert bounds is not None  # every day is a session
        return bounds

    def holiday_name(self, day: date) -> str | None:
        return None


Calendar = SessionHoursCalendar | AlwaysOpenCalendar
"""Every calendar an instrument can have."""

US_EXCHANGES = frozenset({"NASDAQ", "NYSE", "ARCA", "AMEX"})


def calendar_for(exchange: str) -> Calendar:
    """The calendar of an exchange code used in the instrument catalog (crypto: 24x7)."""
    code = exchange.upper()
    if code in {"NSE", "BSE"}:
        return NSECalendar()
    if code in US_EXCHANGES:
        return USEquityCalendar()
    return AlwaysOpenCalendar()


def load_calendars(today: date) -> None:
    """Read the exchanges' holidays and sessions now (the NSE holidays, the US sessions of
    ``today``'s year), so that no later check pays for it.

    The first read imports ``pandas_market_calendars`` and builds the schedules: about a
    second of CPU. A service calls this in a thread while it starts; left to the first
    check, it would stall the service's event loop in the middle of its work (the order
    processor's first square-off check, say, while it decides a burst of orders).
    """
    _nse_holidays()
    _us_sessions(today.year)
