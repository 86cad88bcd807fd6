"""Market status from the exchange calendars: open or closed, why, today's session, next open."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta

from shared.calendar import IST, NSE_HOLIDAY_NAMES_PATH, NSECalendar, USEquityCalendar
from shared.market_status import closed_message, market_status, next_change

SATURDAY = datetime(2026, 12, 5, 17, 5, tzinfo=UTC)  # 22:35 IST
MONDAY_OPEN = datetime(2026, 12, 7, 9, 15, tzinfo=IST)


def test_nse_on_a_saturday_is_closed_for_the_weekend_until_monday_0915_ist() -> None:
    status = market_status("NSE", SATURDAY)

    assert not status.is_open and status.reason == "weekend" and status.holiday is None
    assert status.session_open is None and status.trading_day == date(2026, 12, 5)
    assert status.next_open == MONDAY_OPEN
    assert status.message == "NSE is closed (weekend); it opens Mon 07 Dec 09:15 IST"


def test_an_nse_holiday_is_closed_and_named() -> None:
    christmas = datetime(2026, 12, 25, 11, 0, tzinfo=IST)

    status = market_status("NSE", christmas)

    assert status.reason == "holiday" and status.holiday == "Christmas"
    assert status.next_open == datetime(2026, 12, 28, 9, 15, tzinfo=IST)
    assert status.message == "NSE is closed (Christmas); it opens Mon 28 Dec 09:15 IST"


def test_a_us_holiday_is_named_from_the_nyse_calendar() -> None:
    thanksgiving = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    status = market_status("NASDAQ", thanksgiving)

    assert status.holiday == "Thanksgiving" and status.timezone == "America/New_York"
    assert "opens Fri 27 Nov 09:30 EST" in status.message


def test_during_the_session_the_market_is_open_with_todays_bounds_and_close() -> None:
    midday = datetime(2026, 12, 7, 12, 0, tzinfo=IST)

    status = market_status("NSE", midday)

    assert status.is_open and status.reason == "open"
    assert status.session_open == MONDAY_OPEN
    assert status.session_close == status.next_close == datetime(2026, 12, 7, 15, 30, tzinfo=IST)
    assert status.next_open == datetime(2026, 12, 8, 9, 15, tzinfo=IST)


def test_before_and_after_the_session_say_so() -> None:
    early = market_status("NSE", datetime(2026, 12, 7, 8, 0, tzinfo=IST))
    late = market_status("NSE", datetime(2026, 12, 7, 16, 0, tzinfo=IST))

    assert early.reason == "before_open" and early.next_open == MONDAY_OPEN
    assert late.reason == "after_close"
    assert late.next_open == datetime(2026, 12, 8, 9, 15, tzinfo=IST)


def test_crypto_is_open_around_the_clock_with_the_utc_day_as_session() -> None:
    status = market_status("BINANCE", SATURDAY)

    assert status.is_open and status.reason == "always_open" and status.next_open is None
    assert status.session_open == datetime(2026, 12, 5, tzinfo=UTC)


def test_closed_message_names_the_next_open_in_the_exchange_local_time() -> None:
    assert closed_message(NSECalendar(), SATURDAY) == (
        "NSE is closed (weekend); it opens Mon 07 Dec 09:15 IST"
    )
    assert closed_message(USEquityCalendar(), SATURDAY).endswith("opens Mon 07 Dec 09:30 EST")


def test_next_change_is_the_next_open_or_close() -> None:
    cal = NSECalendar()

    assert next_change(cal, SATURDAY) == MONDAY_OPEN
    assert next_change(cal, MONDAY_OPEN + timedelta(hours=1)) == datetime(
        2026, 12, 7, 15, 30, tzinfo=IST
    )


def test_every_named_nse_holiday_is_a_weekday_the_calendar_closes() -> None:
    cal = NSECalendar()
    with NSE_HOLIDAY_NAMES_PATH.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))

    assert rows
    for row in rows:
        day = date.fromisoformat(row["date"])
        assert day.weekday() < 5 and not cal.is_trading_day(day), row
        assert cal.holiday_name(day) == row["name"]
