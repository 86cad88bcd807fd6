"""What the paper matcher reports: each event carries the order as it is after the event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ..fills import Fill
from ..orders import Order
from ..quick import quick_init


@dataclass(frozen=True, slots=True)
class PaperEvent:
    """Base of matcher events."""

    order: Order
    ts: datetime


@quick_init
@dataclass(frozen=True, slots=True)
class OrderAccepted(PaperEvent):
    """The paper broker took the order: now OPEN."""


@dataclass(frozen=True, slots=True)
class OrderRejected(PaperEvent):
    """The paper broker refused the order: now REJECTED."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class OrderTriggered(PaperEvent):
    """A stop order's trigger was touched at ``price`` (status unchanged)."""

    price: Decimal


@quick_init
@dataclass(frozen=True, slots=True)
class OrderFilled(PaperEvent):
    """A fill: the order is now PARTIALLY_FILLED or FILLED."""

    fill: Fill


@dataclass(frozen=True, slots=True)
class OrderExpired(PaperEvent):
    """The order (or its unfilled rest) lapsed: now EXPIRED.

    ``reason``: ``ioc_unfilled``, ``session_end`` or ``mis_square_off``.
    """

    reason: str


@dataclass(frozen=True, slots=True)
class OrderCancelled(PaperEvent):
    """The order was cancelled on request: now CANCELLED."""
