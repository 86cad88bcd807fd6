"""The event bus: pub/sub for data that may drop, streams for data that must arrive.

``create_event_bus(settings)`` picks the adapter for the profile: in-process
(embedded) or Redis (distributed). See docs/event-bus.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.bus.base import (
    DEFAULT_SUBSCRIPTION_MAXSIZE,
    BusUnavailable,
    EventBus,
    NoGroup,
    StreamEntry,
    Subscription,
)
from shared.bus.codec import InvalidMessage, MessageDecodeError, UnknownMessage, decode, encode
from shared.bus.inprocess import InProcessEventBus

if TYPE_CHECKING:
    from shared.config import Settings

__all__ = [
    "DEFAULT_SUBSCRIPTION_MAXSIZE",
    "BusUnavailable",
    "EventBus",
    "InProcessEventBus",
    "InvalidMessage",
    "MessageDecodeError",
    "NoGroup",
    "StreamEntry",
    "Subscription",
    "UnknownMessage",
    "create_event_bus",
    "decode",
    "encode",
]


def create_event_bus(settings: Settings) -> EventBus:
    """The bus of ``settings.profile``; a Redis bus owns (and closes) its client."""
    from shared.config import Profile

    forget = settings.stream_consumer_expiry_seconds
    if settings.profile is Profile.EMBEDDED:
        return InProcessEventBus(forget_consumers_after_s=forget)
    from shared.bus.redis import RedisEventBus  # Redis is only imported where it is used
    from shared.redis_client import create_redis_from_settings

    return RedisEventBus(
        create_redis_from_settings(settings), owns_client=True, forget_consumers_after_s=forget
    )
