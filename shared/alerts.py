"""Alerts: what the platform tells a trader, declared once.

An alert is raised from an event that matters to one user (a fill, a denial, a halt,
a price alert that triggered, ...), stored in the user's history, pushed on the
user's private ``alerts`` WebSocket channel and delivered to each notification
channel the user turned on for its kind and severity. ``AlertMessage`` is what a
channel sender receives; ``alert_id`` is stable across retries so receivers can
drop a payload they already have.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from shared.contracts import Event, Message


class Severity(StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2, Severity.CRITICAL: 3}


class AlertKind(StrEnum):
    ORDER_FILLED = "order_filled"
    ORDER_PARTIALLY_FILLED = "order_partially_filled"
    ORDER_DENIED = "order_denied"
    ORDER_REJECTED = "order_rejected"
    RISK_LIMIT = "risk_limit"
    KILL_SWITCH = "kill_switch"
    POSITION_SQUARED_OFF = "position_squared_off"
    FEED_STALE = "feed_stale"
    FEED_BACK = "feed_back"
    SUBSCRIPTION_ERROR = "subscription_error"
    BACKTEST_FINISHED = "backtest_finished"
    DAILY_SUMMARY = "daily_summary"
    PRICE_ALERT = "price_alert"
    TEST = "test"


class ChannelKind(StrEnum):
    WEBSOCKET = "websocket"
    EMAIL = "email"
    TELEGRAM = "telegram"
    SLACK = "slack"
    DISCORD = "discord"
    WEBHOOK = "webhook"


class AlertMessage(Message):
    """One alert as the WebSocket ``alerts`` channel and every channel sender see it."""

    kind: Literal["alert"] = "alert"
    alert_id: str
    user_id: int
    alert_kind: AlertKind
    severity: Severity
    title: str
    body: str
    data: dict[str, Any] = {}
    created_at: datetime


CHANNEL_ALERTS = "alerts:{user_id}"


def alerts_channel(user_id: int) -> str:
    return CHANNEL_ALERTS.format(user_id=user_id)


class PriceCondition(StrEnum):
    """What a price alert waits for: a crossing of a price, or a move within a window."""

    CROSSES_ABOVE = "crosses_above"
    CROSSES_BELOW = "crosses_below"
    MOVES_PCT = "moves_pct"


class PriceRepeat(StrEnum):
    ONCE = "once"
    REPEATING = "repeating"


class FeedStatusMsg(Message):
    """A market data feed went quiet (``stale``) or is delivering again (``back``)."""

    kind: Literal["feed_status"] = "feed_status"
    feed: str
    state: Literal["stale", "back"]
    symbols: list[str] = []
    detail: str = ""
    ts: datetime


class SubscriptionErrorMsg(Event):
    """A strategy subscription could not be evaluated or could not act (published on the
    owner's ``user_channel``)."""

    kind: Literal["subscription_error"] = "subscription_error"
    user_id: int
    subscription_id: int
    symbol: str | None = None
    reason: str
    ts: datetime


CHANNEL_FEED_STATUS = "feed:status"
"""Bus channel of ``FeedStatusMsg``."""

TASK_DELIVER_ALERTS = "analytics_service.deliver_alerts"
"""Celery task (distributed profile): send the alert deliveries that are due."""
ALERTS_QUEUE = "alerts"
