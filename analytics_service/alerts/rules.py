"""Which events make alerts, and what they say: pure functions from a message to drafts.

A draft names its user and a ``source_key``: the event it came from, the same however
often the event is delivered, so storing it twice is refused by the database (one
alert per event). Severities are fixed per kind of event (docs/alerts.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.alerts import AlertKind, FeedStatusMsg, Severity, SubscriptionErrorMsg
from shared.contracts import ControlEvent, OrderEvent, OrderStatus, plain_decimal

RISK_LIMIT_CODES = frozenset({"daily_loss_limit", "weekly_loss_limit", "max_drawdown"})
"""Denials that mean a loss limit of the account was reached (a risk limit alert)."""
SQUARE_OFF_TAGS = frozenset({"mis_square_off", "liquidation"})
"""``algo_tag`` of the platform's own closing orders (intraday square-off, liquidation)."""


@dataclass(frozen=True)
class AlertDraft:
    """An alert to store for one user (not stored yet)."""

    user_id: int
    kind: AlertKind
    severity: Severity
    title: str
    body: str
    source_key: str
    data: dict[str, Any] = field(default_factory=dict)


def _amount(value: Decimal | None) -> str:
    return "-" if value is None else plain_decimal(value)


def _order_data(event: OrderEvent) -> dict[str, Any]:
    return {
        "order_id": event.order_id,
        "broker_account_id": event.broker_account_id,
        "client_order_id": event.client_order_id,
        "symbol": event.symbol,
        "side": str(event.side),
        "status": str(event.status),
        "quantity": _amount(event.quantity),
        "filled_quantity": _amount(event.filled_quantity),
        "average_price": None if event.average_price is None else _amount(event.average_price),
        "origin": event.origin,
        "subscription_id": event.subscription_id,
        "reason_code": event.reason_code,
        "reason": event.reason,
    }


def from_order(event: OrderEvent) -> AlertDraft | None:
    """The alert of an order's new state, if that state is one a trader is told about."""
    what = f"{event.side} {_amount(event.quantity)} {event.symbol}"
    data = _order_data(event)
    key = f"order:{event.order_id}:{event.status}"
    status = event.status
    if status is OrderStatus.FILLED:
        price = _amount(event.average_price)
        if event.origin == "system" and event.algo_tag in SQUARE_OFF_TAGS:
            why = "liquidation" if event.algo_tag == "liquidation" else "intraday square-off"
            return AlertDraft(
                event.user_id,
                AlertKind.POSITION_SQUARED_OFF,
                Severity.WARNING,
                f"Position squared off: {event.symbol}",
                f"{what} at {price} ({why})",
                key,
                data,
            )
        return AlertDraft(
            event.user_id,
            AlertKind.ORDER_FILLED,
            Severity.INFO,
            f"Filled: {what}",
            f"{what} filled at {price} (order {event.order_id})",
            key,
            data,
        )
    if status is OrderStatus.PARTIALLY_FILLED:
        filled = _amount(event.filled_quantity)
        return AlertDraft(
            event.user_id,
            AlertKind.ORDER_PARTIALLY_FILLED,
            Severity.INFO,
            f"Partly filled: {what}",
            f"{filled} of {_amount(event.quantity)} filled at {_amount(event.average_price)} "
            f"on average (order {event.order_id})",
            f"{key}:{filled}",
            data,
        )
    if status is OrderStatus.DENIED:
        check = event.reason_code or "denied"
        reason = event.reason or check
        if check in RISK_LIMIT_CODES:
            return AlertDraft(
                event.user_id,
                AlertKind.RISK_LIMIT,
                Severity.ERROR,
                f"Risk limit reached: {check.replace('_', ' ')}",
                f"{what} denied: {reason}. Only risk-reducing orders pass until the limit resets.",
                key,
                data,
            )
        return AlertDraft(
            event.user_id,
            AlertKind.ORDER_DENIED,
            Severity.WARNING,
            f"Order denied ({check}): {what}",
            reason,
            key,
            data,
        )
    if status is OrderStatus.REJECTED:
        return AlertDraft(
            event.user_id,
            AlertKind.ORDER_REJECTED,
            Severity.ERROR,
            f"Rejected by the broker: {what}",
            event.reason or event.reason_code or "rejected",
            key,
            data,
        )
    return None


def _event_key(prefix: str, event_id: str | None, *parts: object) -> str:
    if event_id:
        return f"{prefix}:{event_id}"
    return ":".join((prefix, *(str(p) for p in parts)))


def from_control(
    event: ControlEvent, user_ids: Iterable[int], *, by: str | None = None
) -> list[AlertDraft]:
    """Kill switch alerts: a halt, resume or liquidation of ``user_ids`` (everyone affected).

    ``by`` says who acted ("you", "an administrator"; None: not known); a halt of
    everyone is the platform's (global).
    """
    if event.action not in ("halt", "resume", "liquidate"):
        return []
    scope = "everyone" if event.user_id is None else "your account"
    actor = "" if event.user_id is None or by is None else f" by {by}"
    reason = f": {event.reason}" if event.reason else ""
    if event.action == "halt":
        severity = Severity.CRITICAL
        title = f"Trading halted for {scope}{actor}"
        body = f"New orders are refused and open orders cancelled{reason}"
    elif event.action == "resume":
        severity = Severity.INFO
        title = f"Trading resumed for {scope}{actor}"
        body = f"Orders are accepted again{reason}"
    else:
        severity = Severity.CRITICAL
        title = f"Positions liquidated{actor}"
        body = f"Open positions are being closed at market{reason}"
    key = _event_key(f"control:{event.action}", event.event_id, event.user_id, event.ts.isoformat())
    data = {
        "action": event.action,
        "scope": "global" if event.user_id is None else "user",
        "by": by,
        "reason": event.reason,
    }
    return [
        AlertDraft(uid, AlertKind.KILL_SWITCH, severity, title, body, key, data) for uid in user_ids
    ]


def from_feed(event: FeedStatusMsg, user_ids: Iterable[int]) -> list[AlertDraft]:
    """A feed that went stale or came back, told to ``user_ids``."""
    symbols = ", ".join(event.symbols[:10]) + (" ..." if len(event.symbols) > 10 else "")
    which = f" ({symbols})" if symbols else ""
    if event.state == "stale":
        kind, severity = AlertKind.FEED_STALE, Severity.ERROR
        title = f"Market data feed {event.feed} is stale"
        body = f"No prices received{which}; strategies wait for fresh candles. {event.detail}"
    else:
        kind, severity = AlertKind.FEED_BACK, Severity.INFO
        title = f"Market data feed {event.feed} is back"
        body = f"Prices are flowing again{which}. {event.detail}"
    key = f"feed:{event.feed}:{event.state}:{event.ts.isoformat()}"
    data = {"feed": event.feed, "state": event.state, "symbols": event.symbols}
    return [AlertDraft(u, kind, severity, title, body.strip(), key, data) for u in user_ids]


def from_subscription_error(event: SubscriptionErrorMsg) -> AlertDraft:
    on = f" on {event.symbol}" if event.symbol else ""
    return AlertDraft(
        event.user_id,
        AlertKind.SUBSCRIPTION_ERROR,
        Severity.ERROR,
        f"Subscription {event.subscription_id} failed{on}",
        event.reason,
        _event_key("subscription", event.event_id, event.subscription_id, event.ts.isoformat()),
        {"subscription_id": event.subscription_id, "symbol": event.symbol},
    )


def backtest_finished(
    user_id: int,
    backtest_id: int | str,
    *,
    name: str = "",
    succeeded: bool = True,
    summary: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> AlertDraft:
    """The alert of a finished (or failed) backtest."""
    label = name or f"backtest {backtest_id}"
    figures = dict(summary or {})
    if succeeded:
        shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in list(figures.items())[:6])
        return AlertDraft(
            user_id,
            AlertKind.BACKTEST_FINISHED,
            Severity.INFO,
            f"Backtest finished: {label}",
            shown or "The report is ready.",
            f"backtest:{backtest_id}",
            {"backtest_id": backtest_id, "succeeded": True, "summary": figures},
        )
    return AlertDraft(
        user_id,
        AlertKind.BACKTEST_FINISHED,
        Severity.ERROR,
        f"Backtest failed: {label}",
        error or "the backtest stopped with an error",
        f"backtest:{backtest_id}",
        {"backtest_id": backtest_id, "succeeded": False, "error": error, "summary": figures},
    )


@dataclass(frozen=True)
class AccountDay:
    """One broker account's trading day, for the daily summary."""

    broker_account_id: int
    label: str
    currency: str
    trades: int
    charges: Decimal
    pnl: Decimal | None
    """The day's P&L (equity against the start of the day; None: not known)."""


def daily_summary(
    user_id: int, exchange: str, day: str, accounts: Iterable[AccountDay]
) -> AlertDraft | None:
    """The summary after ``exchange`` closed on ``day``; None when no account traded or moved."""
    rows = [a for a in accounts if a.trades or (a.pnl is not None and a.pnl != 0)]
    if not rows:
        return None
    lines = []
    for a in rows:
        pnl = "not known" if a.pnl is None else f"{plain_decimal(a.pnl)} {a.currency}"
        lines.append(
            f"{a.label}: P&L {pnl}, {a.trades} trade{'s' if a.trades != 1 else ''}, "
            f"charges {plain_decimal(a.charges)} {a.currency}"
        )
    return AlertDraft(
        user_id,
        AlertKind.DAILY_SUMMARY,
        Severity.INFO,
        f"Daily summary {exchange} {day}",
        "\n".join(lines),
        f"daily:{exchange}:{day}",
        {
            "exchange": exchange,
            "day": day,
            "accounts": [
                {
                    "broker_account_id": a.broker_account_id,
                    "label": a.label,
                    "currency": a.currency,
                    "trades": a.trades,
                    "charges": plain_decimal(a.charges),
                    "pnl": None if a.pnl is None else plain_decimal(a.pnl),
                }
                for a in rows
            ],
        },
    )


def price_alert(
    user_id: int,
    price_alert_id: int,
    symbol: str,
    description: str,
    price: float,
    ts: datetime,
    note: str = "",
) -> AlertDraft:
    """The alert of a price alert that triggered at ``price`` (a tick at ``ts``)."""
    body = f"{symbol} traded at {price:g} ({description})"
    return AlertDraft(
        user_id,
        AlertKind.PRICE_ALERT,
        Severity.WARNING,
        f"{symbol} {description}",
        f"{body}. {note}".strip() if note else body,
        f"price:{price_alert_id}:{ts.isoformat()}",
        {"price_alert_id": price_alert_id, "symbol": symbol, "price": price, "at": ts.isoformat()},
    )
