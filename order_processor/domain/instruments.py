"""What the order domain needs of an instrument's exchange calendar.

The instrument itself is ``shared.instruments.Instrument``, the platform's one
instrument type (lot and tick size, freeze quantity, sector, exchange, ``calendar()``).
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Protocol


class SessionCalendar(Protocol):
    """The calendar surface used here (``shared.calendar`` classes satisfy it)."""

    @property
    def name(self) -> str: ...

    @property
    def tz(self) -> tzinfo: ...

    def is_open(self, ts: datetime) -> bool: ...

    def is_trading_day(self, day: date) -> bool: ...

    def session_bounds(self, day: date) -> tuple[datetime, datetime] | None: ...
