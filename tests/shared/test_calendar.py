"""Exchange calendars: session hours, holidays and early closes in each exchange's own time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from shared.calendar import (
    IST,
    AlwaysOpenCalendar,
    NSECalendar,
    USEquityCalendar,
    calendar_for,
)

NEW_YORK = ZoneInfo("America/New_York")


def local(bounds: tuple[datetime, datetime] | None, tz: ZoneInfo) -> tuple[time, time] | None:
    if bounds is None:
        return None
    return bounds[0].astimezone(tz).time(), bounds[1].astimezone(tz).time()


def test_us_session_is_0930_to_1600_new_york_time_in_winter_and_summer() -> None:
    cal = USEquityCalendar()
    winter, summer = cal.session_bounds(date(2025, 1, 14)), cal.session_bounds(date(2025, 7, 15))

    assert local(winter, NEW_YORK) == local(summer, NEW_YORK) == (time(9, 30), time(16, 0))
    assert winter is not None and winter[0] == datetime(2025, 1, 14, 14, 30, tzinfo=UTC)
    assert summer is not None and summer[0] == datetime(2025, 7, 15, 13, 30, tzinfo=UTC)


def test_us_holidays_and_weekends_have_no_session() -> None:
    cal = USEquityCalendar()

    assert cal.session_bounds(date(2025, 7, 4)) is None  # Independence Day, a Friday
    assert cal.session_bounds(date(2025, 11, 27)) is None  # Thanksgiving
    assert cal.session_bounds(date(2025, 7, 5)) is None  # Saturday
    assert not cal.is_trading_day(date(2025, 12, 25))


def test_us_early_close_ends_the_session_at_1300() -> None:
    day_after_thanksgiving = USEquityCalendar().session_bounds(date(2025, 11, 28))

    assert local(day_after_thanksgiving, NEW_YORK) == (time(9, 30), time(13, 0))


def test_us_open_and_next_open_follow_the_session() -> None:
    cal = USEquityCalendar()
    friday_close = datetime(2025, 7, 3, 17, 0, tzinfo=NEW_YORK)  # after the 13:00 early close

    assert cal.is_open(datetime(2025, 7, 3, 12, 59, tzinfo=NEW_YORK))
    assert not cal.is_open(friday_close)
    assert cal.next_open(friday_close) == datetime(2025, 7, 7, 9, 30, tzinfo=NEW_YORK)


def test_extra_holidays_close_a_session_the_data_does_not_know() -> None:
    cal = USEquityCalendar(extra_holidays=[date(2025, 1, 9)])

    assert cal.session_bounds(date(2025, 1, 9)) is None
    assert cal.session_bounds(date(2025, 1, 10)) is not None


def test_nse_session_is_unchanged() -> None:
    cal = NSECalendar()

    assert local(cal.session_bounds(date(2025, 11, 24)), IST) == (time(9, 15), time(15, 30))
    assert cal.session_bounds(date(2025, 12, 25)) is None
    assert cal.session_seconds == 22_500


def test_exchange_codes_map_to_their_calendars() -> None:
    assert isinstance(calendar_for("NSE"), NSECalendar)
    assert isinstance(calendar_for("nasdaq"), USEquityCalendar)
    assert isinstance(calendar_for("NYSE"), USEquityCalendar)
    assert isinstance(calendar_for("BINANCE"), AlwaysOpenCalendar)
