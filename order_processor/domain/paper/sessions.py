"""When a paper order lapses: end of its session, or the MIS square-off time on NSE."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from shared.calendar import MIS_SQUARE_OFF
from shared.contracts import Product

from ..instruments import SessionCalendar
from ..orders import Order

SESSION_END = "session_end"
MIS_SQUARE_OFF_REASON = "mis_square_off"


def session_of(calendar: SessionCalendar, ts: datetime) -> tuple[date, datetime]:
    """The trading day whose session is running at or next after ``ts``, and its close."""
    day = ts.astimezone(calendar.tz).date()
    for _ in range(30):
        bounds = calendar.session_bounds(day)
        if bounds is not None and ts < bounds[1]:
            return day, bounds[1]
        day += timedelta(days=1)
    raise RuntimeError(f"no {calendar.name} session within 30 days of {ts.isoformat()}")


def mis_cutoff(calendar: SessionCalendar, day: date, at: time = MIS_SQUARE_OFF) -> datetime | None:
    """The MIS square-off time of ``day`` on NSE; None elsewhere (24x7 venues have none)."""
    if calendar.name != "NSE":
        return None
    return datetime.combine(day, at, calendar.tz)


def expiry_of(
    order: Order, calendar: SessionCalendar, accepted_at: datetime
) -> tuple[datetime, str]:
    """When an order accepted at ``accepted_at`` lapses, and why.

    DAY and IOC orders lapse at the close of their session; MIS orders placed
    before the square-off time lapse at the square-off time.
    """
    day, close = session_of(calendar, accepted_at)
    if order.product is Product.MIS:
        cutoff = mis_cutoff(calendar, day)
        if cutoff is not None and accepted_at < cutoff:
            return cutoff, MIS_SQUARE_OFF_REASON
    return close, SESSION_END
