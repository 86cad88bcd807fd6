"""Writing alerts: one row per (user, event), and a delivery row per channel that wants it.

``record`` is the one writer of the history. It runs in the caller's transaction; the
caller commits, then pushes the returned messages on the WebSocket and wakes the
delivery loop (delivery is decoupled: rows in ``alert_deliveries`` are the outbox).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service.alerts.rules import AlertDraft
from shared.alerts import AlertKind, AlertMessage, ChannelKind, Severity, alerts_channel
from shared.bus import EventBus
from shared.models import Alert, AlertChannel, AlertDelivery

log = logging.getLogger(__name__)

PENDING, SENT, FAILED = "pending", "sent", "failed"


@dataclass(frozen=True)
class Recorded:
    """An alert stored by ``record``: its message, whether the WebSocket channel wants it, and
    how many deliveries to other channels it queued."""

    message: AlertMessage
    push: bool
    deliveries: int
    delivery_ids: tuple[int, ...] = ()
    """The ``alert_deliveries`` rows queued (their ids, once flushed)."""


def wants(channel: AlertChannel, kind: AlertKind | str, severity: Severity | str) -> bool:
    """Whether ``channel`` takes an alert of this kind and severity."""
    if not channel.enabled:
        return False
    if str(severity) not in channel.severities:
        return False
    return not channel.kinds or str(kind) in channel.kinds


def to_message(row: Alert) -> AlertMessage:
    return AlertMessage(
        alert_id=str(row.alert_id),
        user_id=row.user_id,
        alert_kind=AlertKind(row.kind),
        severity=Severity(row.severity),
        title=row.title,
        body=row.body,
        data=row.data,
        created_at=row.created_at,
    )


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Alert)


async def record(
    session: AsyncSession,
    drafts: Sequence[AlertDraft],
    now: datetime,
    *,
    only_channel: AlertChannel | None = None,
) -> list[Recorded]:
    """Store the drafts not stored before (by user and ``source_key``) and queue their deliveries.

    ``only_channel``: deliver to that channel only (a test alert), whatever its filters.
    """
    if not drafts:
        return []
    channels = (
        await _channels_of(session, {d.user_id for d in drafts}) if only_channel is None else {}
    )
    stored: list[tuple[Alert, bool, list[AlertDelivery]]] = []
    for draft in drafts:
        row = await _store(session, draft, now)
        if row is None:
            continue  # this event made its alert before (a second delivery)
        targets, push = _targets(draft, channels.get(draft.user_id, []), only_channel)
        queued = [
            AlertDelivery(
                alert_id=row.id,
                user_id=draft.user_id,
                channel_id=channel.id,
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            for channel in targets
        ]
        session.add_all(queued)
        stored.append((row, push, queued))
    await session.flush()
    return [
        Recorded(to_message(row), push, len(queued), tuple(d.id for d in queued))
        for row, push, queued in stored
    ]


async def _store(session: AsyncSession, draft: AlertDraft, now: datetime) -> Alert | None:
    values = {
        "alert_id": uuid.uuid4(),
        "user_id": draft.user_id,
        "kind": str(draft.kind),
        "severity": str(draft.severity),
        "title": draft.title[:200],
        "body": draft.body[:4000],
        "data": draft.data,
        "source_key": draft.source_key[:200],
        "created_at": now,
        "read_at": None,
    }
    stmt = (
        _insert(session)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["user_id", "source_key"])
        .returning(Alert.id)
    )
    new_id = await session.scalar(stmt)
    if new_id is None:
        return None
    return Alert(id=new_id, **values)


async def _channels_of(
    session: AsyncSession, user_ids: Iterable[int]
) -> dict[int, list[AlertChannel]]:
    rows = await session.scalars(
        select(AlertChannel)
        .where(AlertChannel.user_id.in_(list(user_ids)))
        .order_by(AlertChannel.id)
    )
    out: dict[int, list[AlertChannel]] = {}
    for channel in rows:
        out.setdefault(channel.user_id, []).append(channel)
    return out


def _targets(
    draft: AlertDraft, channels: list[AlertChannel], only: AlertChannel | None
) -> tuple[list[AlertChannel], bool]:
    """The channels to queue deliveries for, and whether to push on the WebSocket.

    The WebSocket is on by default: a user without a WebSocket channel row gets every
    alert there; one who saved such a row gets what its filters let through.
    """
    if only is not None:
        if only.kind == ChannelKind.WEBSOCKET:
            return [], True
        return [only], False
    sockets = [c for c in channels if c.kind == ChannelKind.WEBSOCKET]
    push = not sockets or any(wants(c, draft.kind, draft.severity) for c in sockets)
    others = [
        c
        for c in channels
        if c.kind != ChannelKind.WEBSOCKET and wants(c, draft.kind, draft.severity)
    ]
    return others, push


async def push(bus: EventBus | None, recorded: Iterable[Recorded]) -> None:
    """Push stored alerts on their users' ``alerts`` WebSocket channel (after the commit).

    Pub/sub: a user not connected misses the push, never the alert (it is in the history).
    """
    if bus is None:
        return
    items = [(alerts_channel(r.message.user_id), r.message) for r in recorded if r.push]
    if items:
        try:
            await bus.publish_many(items)
        except Exception:
            log.warning("pushing %d alerts on the WebSocket failed", len(items), exc_info=True)
