"""Whether each exchange is trading, read from its calendar: open or closed, why, and when next.

Pure: the gateway's ``GET /market/status``, the WebSocket ``status`` channel, the market
data engine's status announcements and the order processor's market-hours denial all
describe a market with these functions, so they say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo

from shared.calendar import AlwaysOpenCalendar, Calendar, SessionHoursCalendar, calendar_for
from shared.contracts import MarketReason, MarketStatusMsg
from shared.instruments import Instrument


def exchanges_of(instruments: Iterable[Instrument]) -> list[str]:
    """The exchange codes of ``instruments``, in first-seen order."""
    return list(dict.fromkeys(i.exchange for i in instruments))


def local_time(ts: datetime, calendar: Calendar) -> str:
    """``ts`` in the exchange's own time, as a trader reads it: ``Mon 07 Dec 09:15 IST``."""
    local = ts.astimezone(calendar.tz)
    return f"{local:%a %d %b %H:%M} {local:%Z}"


def market_status(
    exchange: str, now: datetime, calendar: Calendar | None = None
) -> MarketStatusMsg:
    """The state of ``exchange`` at ``now`` (its calendar from the exchange code by default)."""
    cal = calendar if calendar is not None else calendar_for(exchange)
    if isinstance(cal, AlwaysOpenCalendar):
        return _always_open(exchange, cal, now)
    return _session_status(exchange, cal, now)


def closed_message(calendar: object, now: datetime, exchange: str | None = None) -> str:
    """Why the market is closed at ``now`` and when it opens, in the exchange's local time.

    Takes any calendar; one that is not a ``shared.calendar`` class (it cannot tell the
    next session) gets the plain "is closed" with ``now`` in its time zone.
    """
    name = exchange or str(getattr(calendar, "name", "the market"))
    if isinstance(calendar, SessionHoursCalendar | AlwaysOpenCalendar):
        return market_status(name, now, calendar).message
    tz = getattr(calendar, "tz", None)
    local = now.astimezone(tz) if isinstance(tz, tzinfo) else now
    return f"{name} is closed at {local:%a %d %b %H:%M %Z}"


def next_change(calendar: Calendar, now: datetime) -> datetime | None:
    """The next instant after ``now`` at which the market opens or closes (None: never)."""
    if isinstance(calendar, AlwaysOpenCalendar):
        return None
    today = calendar.session_bounds(now.astimezone(calendar.tz).date())
    if today is not None and now < today[1]:
        return today[0] if now < today[0] else today[1]
    return calendar.next_session(now)[0]


def _always_open(exchange: str, cal: AlwaysOpenCalendar, now: datetime) -> MarketStatusMsg:
    day = now.astimezone(cal.tz).date()
    session = cal.session_bounds(day)
    assert session is not None
    return MarketStatusMsg(
        exchange=exchange,
        timezone="UTC",
        is_open=True,
        reason="always_open",
        trading_day=day,
        session_open=session[0],
        session_close=session[1],
        message=f"{exchange} is open around the clock",
        ts=now,
    )


def _session_status(exchange: str, cal: SessionHoursCalendar, now: datetime) -> MarketStatusMsg:
    day = now.astimezone(cal.tz).date()
    today = cal.session_bounds(day)
    holiday = cal.holiday_name(day)
    if today is not None and today[0] <= now < today[1]:
        after = cal.next_session(now)
        return MarketStatusMsg(
            exchange=exchange,
            timezone=cal.tz.key,
            is_open=True,
            reason="open",
            trading_day=day,
            session_open=today[0],
            session_close=today[1],
            next_open=after[0],
            next_close=today[1],
            message=f"{exchange} is open until {local_time(today[1], cal)}",
            ts=now,
        )
    reason: MarketReason
    if today is not None and now < today[0]:
        upcoming = today
        reason, why = "before_open", "before the session"
    else:
        upcoming = cal.next_session(now)
        if today is not None:
            reason, why = "after_close", "after the session"
        elif holiday is not None:
            reason, why = "holiday", holiday
        else:
            reason, why = "weekend", "weekend"
    opens = local_time(upcoming[0], cal)
    return MarketStatusMsg(
        exchange=exchange,
        timezone=cal.tz.key,
        is_open=False,
        reason=reason,
        holiday=holiday,
        trading_day=day,
        session_open=today[0] if today is not None else None,
        session_close=today[1] if today is not None else None,
        next_open=upcoming[0],
        next_close=upcoming[1],
        message=f"{exchange} is closed ({why}); it opens {opens}",
        ts=now,
    )


def statuses(exchanges: Iterable[str], now: datetime) -> list[MarketStatusMsg]:
    """``market_status`` of each exchange."""
    return [market_status(exchange, now) for exchange in exchanges]


def until_next_change(calendars: Iterable[Calendar], now: datetime) -> timedelta | None:
    """Time from ``now`` to the first open or close among ``calendars`` (None: none ever)."""
    changes = [c for c in (next_change(cal, now) for cal in calendars) if c is not None]
    return min(changes) - now if changes else None
