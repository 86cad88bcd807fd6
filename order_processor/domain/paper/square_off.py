"""MIS square-off: at 15:20 IST open intraday positions are closed with market orders.

The matcher already lets working MIS orders lapse at that time; this module
says when the square-off is due and builds the closing orders. Their client
order ids are deterministic per symbol and day, so asking twice (a restart, a
second tick) yields the same ids and the idempotency key stops a double close.
Square-off orders only reduce positions; the service sends them without the
risk chain, like cancels.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time

from shared.calendar import MIS_SQUARE_OFF, NSECalendar
from shared.contracts import OrderType, Product, Side, Validity

from ..instruments import SessionCalendar
from ..orders import Order
from ..positions import Position
from .sessions import mis_cutoff

SQUARE_OFF_TAG = "mis_square_off"


class MisSquareOff:
    """When intraday positions are squared off on one calendar, and the orders that do it."""

    def __init__(self, calendar: SessionCalendar | None = None, at: time = MIS_SQUARE_OFF) -> None:
        self.calendar: SessionCalendar = calendar if calendar is not None else NSECalendar()
        self.at = at

    def is_due(self, ts: datetime) -> bool:
        """Whether ``ts`` falls between the square-off time and the close of a session."""
        day = ts.astimezone(self.calendar.tz).date()
        bounds = self.calendar.session_bounds(day)
        cutoff = mis_cutoff(self.calendar, day, self.at)
        return bounds is not None and cutoff is not None and cutoff <= ts < bounds[1]

    def orders(
        self,
        positions: Iterable[Position],
        *,
        user_id: int,
        broker_account_id: int,
        ts: datetime,
    ) -> list[Order]:
        """PENDING market orders closing every open MIS position; none unless ``is_due(ts)``."""
        if not self.is_due(ts):
            return []
        day = ts.astimezone(self.calendar.tz).date()
        return [
            Order(
                user_id=user_id,
                broker_account_id=broker_account_id,
                client_order_id=f"sqoff-{p.symbol}-{day:%Y%m%d}",
                symbol=p.symbol,
                side=Side.SELL if p.quantity > 0 else Side.BUY,
                quantity=abs(p.quantity),
                order_type=OrderType.MARKET,
                product=Product.MIS,
                validity=Validity.DAY,
                origin="system",
                algo_tag=SQUARE_OFF_TAG,
                created_at=ts,
                updated_at=ts,
            )
            for p in positions
            if p.product is Product.MIS and p.is_open
        ]
