"""What the order domain needs to know about a tradable instrument."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Protocol

from shared.calendar import Calendar, calendar_for


class SessionCalendar(Protocol):
    """The calendar surface used here (``shared.calendar`` classes satisfy it)."""

    @property
    def name(self) -> str: ...

    @property
    def tz(self) -> tzinfo: ...

    def is_open(self, ts: datetime) -> bool: ...

    def is_trading_day(self, day: date) -> bool: ...

    def session_bounds(self, day: date) -> tuple[datetime, datetime] | None: ...


@dataclass(frozen=True, slots=True)
class Instrument:
    """Trading rules of one symbol: lot and tick size, NSE freeze quantity, sector, exchange."""

    symbol: str
    exchange: str = "NSE"
    lot_size: Decimal = Decimal(1)
    tick_size: Decimal = Decimal("0.05")
    freeze_qty: Decimal | None = None
    sector: str | None = None

    def calendar(self) -> Calendar:
        """The exchange calendar this instrument trades on."""
        return calendar_for(self.exchange)
