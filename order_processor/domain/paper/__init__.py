"""The paper broker: fill conventions, the resting-order matcher, MIS square-off."""

from .events import (
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
    PaperEvent,
)
from .fill_model import FillModel
from .matcher import DuplicateOrder, PaperMatcher, UnknownOrder
from .square_off import MisSquareOff

__all__ = [
    "DuplicateOrder",
    "FillModel",
    "MisSquareOff",
    "OrderAccepted",
    "OrderCancelled",
    "OrderExpired",
    "OrderFilled",
    "OrderRejected",
    "OrderTriggered",
    "PaperEvent",
    "PaperMatcher",
    "UnknownOrder",
]
