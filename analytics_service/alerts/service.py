"""One user's alerts: history, read marks, statistics, notification channels, price alerts.

Every query goes through a repository bound to the user (``UserScopedRepository``): an
id of another user's row is not found. Runs in the caller's transaction; never commits.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics_service.alerts import channels
from analytics_service.alerts.delivery import LEASE_S, channel_config
from analytics_service.alerts.rules import AlertDraft
from analytics_service.alerts.store import FAILED, SENT, Recorded, record, to_message
from shared.alerts import AlertKind, ChannelKind, PriceCondition, PriceRepeat, Severity
from shared.config import Settings
from shared.db import transaction
from shared.errors import Conflict, NotFound, Unprocessable
from shared.instruments import load_catalog
from shared.models import Alert, AlertChannel, AlertDelivery, PriceAlert
from shared.repository import Page, UserScopedRepository, paginate
from shared.security.secrets import SecretBox

T = TypeVar("T")


class AlertRepository(UserScopedRepository[Alert]):
    model: ClassVar = Alert
    not_found_message = "alert not found"

    async def by_public_id(self, alert_id: uuid.UUID) -> Alert:
        row = await self.session.scalar(self._scoped().where(Alert.alert_id == alert_id))
        if row is None:
            raise NotFound(self.not_found_message)
        return row  # type: ignore[no-any-return]


class ChannelRepository(UserScopedRepository[AlertChannel]):
    model: ClassVar = AlertChannel
    not_found_message = "notification channel not found"


class PriceAlertRepository(UserScopedRepository[PriceAlert]):
    model: ClassVar = PriceAlert
    not_found_message = "price alert not found"


@dataclass(frozen=True)
class AlertFilter:
    severity: Severity | None = None
    kind: AlertKind | None = None
    read: bool | None = None  # None: read and unread


@dataclass
class AlertView:
    """An alert and what became of its deliveries."""

    alert: Alert
    deliveries: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class HistoryPage:
    items: list[AlertView]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class AlertStats:
    total: int
    unread: int
    by_kind: dict[str, int]
    by_severity: dict[str, int]
    unread_by_severity: dict[str, int]


@dataclass(frozen=True)
class ChannelSpec:
    """A channel as asked for (create: every field; update: None keeps the stored value)."""

    kind: ChannelKind | None = None
    name: str | None = None
    enabled: bool | None = None
    severities: Sequence[Severity] | None = None
    kinds: Sequence[AlertKind] | None = None
    config: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ChannelView:
    channel: AlertChannel
    secrets_set: list[str]
    """Names of the secret fields that hold a value (never the values)."""
    revealed: dict[str, str] = field(default_factory=dict)
    """Secrets generated for the trader on this save (shown once, e.g. a webhook secret)."""


@dataclass(frozen=True)
class PriceAlertSpec:
    symbol: str | None = None
    condition: PriceCondition | None = None
    price: Decimal | None = None
    percent: Decimal | None = None
    window_minutes: int | None = None
    repeat: PriceRepeat | None = None
    active: bool | None = None
    note: str | None = None


@dataclass(frozen=True)
class TestResult:
    alert: Alert
    recorded: Recorded
    channel: AlertChannel
    status: str
    error: str | None


class AlertsService:
    """One user's alerts; every id is looked up as that user's (404 if not)."""

    def __init__(
        self, session: AsyncSession, user_id: int, *, settings: Settings, now: datetime
    ) -> None:
        self.session = session
        self.user_id = user_id
        self.settings = settings
        self.now = now
        self.alerts = AlertRepository(session, user_id)
        self.channels = ChannelRepository(session, user_id)
        self.prices = PriceAlertRepository(session, user_id)
        self._box: SecretBox | None = None

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox(self.settings.secrets_encryption_keys)
        return self._box

    # -- history ---------------------------------------------------------------

    async def history(self, limit: int, offset: int, where: AlertFilter) -> HistoryPage:
        stmt = self.alerts._scoped()
        if where.severity is not None:
            stmt = stmt.where(Alert.severity == str(where.severity))
        if where.kind is not None:
            stmt = stmt.where(Alert.kind == str(where.kind))
        if where.read is True:
            stmt = stmt.where(Alert.read_at.is_not(None))
        elif where.read is False:
            stmt = stmt.where(Alert.read_at.is_(None))
        page = await paginate(self.session, stmt.order_by(Alert.id.desc()), limit, offset)
        views = await self._views(page.items)
        return HistoryPage(views, page.total, limit, offset)

    async def get(self, alert_id: uuid.UUID) -> AlertView:
        return (await self._views([await self.alerts.by_public_id(alert_id)]))[0]

    async def _views(self, rows: Sequence[Alert]) -> list[AlertView]:
        views = {row.id: AlertView(row) for row in rows}
        if not views:
            return []
        found = await self.session.execute(
            select(AlertDelivery, AlertChannel.kind, AlertChannel.name)
            .join(AlertChannel, AlertChannel.id == AlertDelivery.channel_id)
            .where(AlertDelivery.user_id == self.user_id, AlertDelivery.alert_id.in_(views))
            .order_by(AlertDelivery.id)
        )
        for delivery, kind, name in found.all():
            views[delivery.alert_id].deliveries.append(
                {
                    "channel_id": delivery.channel_id,
                    "channel_kind": kind,
                    "channel_name": name,
                    "status": delivery.status,
                    "attempts": delivery.attempts,
                    "next_attempt_at": delivery.next_attempt_at,
                    "last_error": delivery.last_error,
                    "sent_at": delivery.sent_at,
                }
            )
        return [views[row.id] for row in rows]

    async def mark_read(self, alert_id: uuid.UUID) -> AlertView:
        row = await self.alerts.by_public_id(alert_id)
        if row.read_at is None:
            row.read_at = self.now
            await self.session.flush()
        return (await self._views([row]))[0]

    async def mark_all_read(self) -> int:
        result = await self.session.execute(
            update(Alert)
            .where(Alert.user_id == self.user_id, Alert.read_at.is_(None))
            .values(read_at=self.now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def stats(self) -> AlertStats:
        rows = (
            await self.session.execute(
                select(
                    Alert.kind,
                    Alert.severity,
                    Alert.read_at.is_(None),
                    func.count(Alert.id),
                )
                .where(Alert.user_id == self.user_id)
                .group_by(Alert.kind, Alert.severity, Alert.read_at.is_(None))
            )
        ).all()
        by_kind: dict[str, int] = {}
        by_severity: dict[str, int] = {s.value: 0 for s in Severity}
        unread_by_severity: dict[str, int] = {s.value: 0 for s in Severity}
        total = unread = 0
        for kind, severity, is_unread, count in rows:
            by_kind[kind] = by_kind.get(kind, 0) + count
            by_severity[severity] = by_severity.get(severity, 0) + count
            total += count
            if is_unread:
                unread += count
                unread_by_severity[severity] = unread_by_severity.get(severity, 0) + count
        return AlertStats(total, unread, by_kind, by_severity, unread_by_severity)

    # -- notification channels -------------------------------------------------

    async def list_channels(self) -> list[ChannelView]:
        rows = (await self.session.scalars(self.channels._scoped().order_by(AlertChannel.id))).all()
        return [self._channel_view(row) for row in rows]

    async def get_channel(self, channel_id: int) -> ChannelView:
        return self._channel_view(await self.channels.get(channel_id))

    async def create_channel(self, spec: ChannelSpec) -> ChannelView:
        assert spec.kind is not None
        count = await self.session.scalar(
            select(func.count(AlertChannel.id)).where(AlertChannel.user_id == self.user_id)
        )
        if int(count or 0) >= self.settings.alerts_max_channels_per_user:
            limit = self.settings.alerts_max_channels_per_user
            raise Conflict(f"at most {limit} notification channels", code="too_many_channels")
        given = dict(spec.config or {})
        public, secret = await self._validated(spec.kind, given)
        row = AlertChannel(
            kind=str(spec.kind),
            name=spec.name or str(spec.kind),
            enabled=True if spec.enabled is None else spec.enabled,
            severities=_in_rank_order(
                list(Severity) if spec.severities is None else spec.severities
            ),
            kinds=[str(k) for k in spec.kinds or ()],
            config=public,
            secrets_encrypted=self._seal(secret),
        )
        self.channels.add(row)
        await self.session.flush()
        revealed = {k: str(v) for k, v in secret.items() if k not in given}
        return self._channel_view(row, revealed)

    async def update_channel(self, channel_id: int, spec: ChannelSpec) -> ChannelView:
        row = await self.channels.get(channel_id, for_update=True)
        if spec.kind is not None and str(spec.kind) != row.kind:
            raise Unprocessable("the kind of a channel cannot change; create another one")
        revealed: dict[str, str] = {}
        if spec.config is not None:
            kind = ChannelKind(row.kind)
            stored = self._opened(row)
            # Secret fields left out keep their stored value: they are never sent back.
            merged = {**{k: v for k, v in stored.items() if k in _secret_fields(kind)}}
            merged.update(spec.config)
            public, secret = await self._validated(kind, merged)
            revealed = {k: str(v) for k, v in secret.items() if k not in merged}
            row.config = public
            row.secrets_encrypted = self._seal(secret)
        if spec.name is not None:
            row.name = spec.name
        if spec.enabled is not None:
            row.enabled = spec.enabled
        if spec.severities is not None:
            row.severities = _in_rank_order(spec.severities)
        if spec.kinds is not None:
            row.kinds = [str(k) for k in spec.kinds]
        row.updated_at = self.now
        await self.session.flush()
        return self._channel_view(row, revealed)

    async def delete_channel(self, channel_id: int) -> None:
        row = await self.channels.get(channel_id)
        await self.session.execute(
            delete(AlertDelivery).where(
                AlertDelivery.user_id == self.user_id, AlertDelivery.channel_id == row.id
            )
        )
        await self.channels.delete(row)
        await self.session.flush()

    async def prepare_test(self, channel_id: int) -> TestResult:
        """Store a TEST alert queued for this channel only (sent by ``send_test`` after the
        commit, so no transaction stays open while a receiver answers)."""
        channel = await self.channels.get(channel_id)
        draft = AlertDraft(
            self.user_id,
            AlertKind.TEST,
            Severity.INFO,
            f"Test of {channel.name}",
            "This is a test alert: the channel works.",
            f"test:{channel.id}:{uuid.uuid4().hex}",
            {"channel_id": channel.id},
        )
        recorded = (await record(self.session, [draft], self.now, only_channel=channel))[0]
        if recorded.delivery_ids:
            # Held as a delivery loop holds what it claimed: ``send_test`` sends it, and the
            # loop (or a sweep task) takes it only if this request dies before it is sent.
            await self.session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id.in_(recorded.delivery_ids))
                .values(next_attempt_at=self.now + timedelta(seconds=LEASE_S))
            )
        alert = await self.alerts.by_public_id(uuid.UUID(recorded.message.alert_id))
        status = SENT if channel.kind == ChannelKind.WEBSOCKET else "pending"
        return TestResult(alert, recorded, channel, status, None)

    async def send_test(self, test: TestResult) -> TestResult:
        """Send a prepared test once, now, and record the outcome (no retries)."""
        channel = test.channel
        if channel.kind == ChannelKind.WEBSOCKET:
            return test
        try:
            await channels.send(
                ChannelKind(channel.kind),
                channel_config(channel, self.box),
                to_message(test.alert),
                settings=self.settings,
            )
            status, error = SENT, None
        except channels.DeliveryError as exc:
            status, error = FAILED, exc.reason[:1000]
        except Exception as exc:  # a sender's bug is the test's answer, not a 500
            status, error = FAILED, f"{type(exc).__name__}: {exc}"[:1000]
        await self.session.execute(
            update(AlertDelivery)
            .where(
                AlertDelivery.user_id == self.user_id,
                AlertDelivery.alert_id == test.alert.id,
                AlertDelivery.channel_id == channel.id,
            )
            .values(
                status=status,
                attempts=1,
                last_error=error,
                sent_at=self.now if status == SENT else None,
            )
        )
        return TestResult(test.alert, test.recorded, channel, status, error)

    def _opened(self, row: AlertChannel) -> dict[str, Any]:
        try:
            return channel_config(row, self.box)
        except ValueError:
            return dict(row.config)  # keys rotated away: the trader re-enters the secrets

    async def _validated(
        self, kind: ChannelKind, config: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            # Resolves host names (blocking DNS): off the event loop.
            normalised = await asyncio.to_thread(
                channels.validate_config, kind, config, self.settings
            )
        except channels.ChannelConfigError as exc:
            raise Unprocessable(
                f"config.{exc.field}: {exc.message}",
                code="invalid_channel_config",
                details=[{"field": f"config.{exc.field}", "message": exc.message}],
            ) from exc
        secret_fields = _secret_fields(kind)
        public = {k: v for k, v in normalised.items() if k not in secret_fields}
        secret = {k: v for k, v in normalised.items() if k in secret_fields and v is not None}
        return public, secret

    def _seal(self, secret: Mapping[str, Any]) -> str | None:
        return self.box.encrypt(json.dumps(dict(secret))) if secret else None

    def _channel_view(
        self, row: AlertChannel, revealed: dict[str, str] | None = None
    ) -> ChannelView:
        names: list[str] = []
        if row.secrets_encrypted:
            try:
                names = sorted(json.loads(self.box.decrypt(row.secrets_encrypted)))
            except ValueError:
                names = []
        return ChannelView(row, names, revealed or {})

    # -- price alerts ------------------------------------------------------------

    async def list_price_alerts(
        self, limit: int, offset: int, active: bool | None = None
    ) -> Page[PriceAlert]:
        where = [] if active is None else [PriceAlert.active.is_(active)]
        return await self.prices.list(limit, offset, *where)

    async def get_price_alert(self, price_alert_id: int) -> PriceAlert:
        return await self.prices.get(price_alert_id)

    async def _room_for_active(self) -> None:
        count = await self.session.scalar(
            select(func.count(PriceAlert.id)).where(
                PriceAlert.user_id == self.user_id, PriceAlert.active.is_(True)
            )
        )
        limit = self.settings.alerts_max_price_alerts_per_user
        if int(count or 0) >= limit:
            raise Conflict(f"at most {limit} active price alerts", code="too_many_price_alerts")

    async def create_price_alert(self, spec: PriceAlertSpec) -> PriceAlert:
        if spec.active is not False:
            await self._room_for_active()
        assert spec.symbol is not None and spec.condition is not None
        row = PriceAlert(
            symbol=_known_symbol(spec.symbol),
            condition=str(spec.condition),
            repeat=str(spec.repeat or PriceRepeat.ONCE),
            active=True if spec.active is None else spec.active,
            note=spec.note or "",
            trigger_count=0,
            created_at=self.now,
            updated_at=self.now,
        )
        _apply_terms(row, spec.condition, spec)
        self.prices.add(row)
        await self.session.flush()
        return row

    async def update_price_alert(self, price_alert_id: int, spec: PriceAlertSpec) -> PriceAlert:
        row = await self.prices.get(price_alert_id, for_update=True)
        if spec.symbol is not None:
            row.symbol = _known_symbol(spec.symbol)
        condition = spec.condition or PriceCondition(row.condition)
        if spec.condition is not None or any(
            v is not None for v in (spec.price, spec.percent, spec.window_minutes)
        ):
            # Stored terms carry over only while the condition keeps their meaning.
            same = _is_move(condition) == _is_move(PriceCondition(row.condition))
            merged = PriceAlertSpec(
                price=_either(spec.price, row.price if same else None),
                percent=_either(spec.percent, row.percent if same else None),
                window_minutes=_either(spec.window_minutes, row.window_minutes if same else None),
            )
            _apply_terms(row, condition, merged)
            row.condition = str(condition)
        if spec.repeat is not None:
            row.repeat = str(spec.repeat)
        if spec.active is True and not row.active:
            await self._room_for_active()
        if spec.active is not None:
            row.active = spec.active
        if spec.note is not None:
            row.note = spec.note
        row.updated_at = self.now
        await self.session.flush()
        return row

    async def delete_price_alert(self, price_alert_id: int) -> None:
        await self.prices.delete(await self.prices.get(price_alert_id))
        await self.session.flush()


def _secret_fields(kind: ChannelKind) -> tuple[str, ...]:
    return tuple(channels.SECRET_FIELDS.get(kind, ()))


def _in_rank_order(severities: Sequence[Severity]) -> list[str]:
    """The severities a channel takes, stored in rank order; none at all is refused (422)."""
    if not severities:
        raise Unprocessable("a channel takes at least one severity", code="no_severities")
    return [str(s) for s in sorted(set(severities), key=lambda s: s.rank)]


def _known_symbol(symbol: str) -> str:
    name = symbol.strip().upper()
    if name not in load_catalog():
        raise Unprocessable(f"unknown symbol {symbol!r}", code="unknown_symbol")
    return name


def _is_move(condition: PriceCondition) -> bool:
    return condition is PriceCondition.MOVES_PCT


def _either(given: T | None, stored: T | None) -> T | None:
    return given if given is not None else stored


def _apply_terms(row: PriceAlert, condition: PriceCondition, spec: PriceAlertSpec) -> None:
    """Set the terms the condition needs; refuse missing or meaningless ones (422)."""
    if condition is PriceCondition.MOVES_PCT:
        if spec.price is not None:
            raise Unprocessable("moves_pct takes percent and window_minutes, not price")
        if spec.percent is None or spec.window_minutes is None:
            raise Unprocessable("moves_pct needs percent and window_minutes")
        if not Decimal(0) < spec.percent <= Decimal(100):
            raise Unprocessable("percent must be above 0 and at most 100")
        if not 1 <= spec.window_minutes <= 1440:
            raise Unprocessable("window_minutes must be between 1 and 1440")
        row.price, row.percent, row.window_minutes = None, spec.percent, spec.window_minutes
        return
    if spec.percent is not None or spec.window_minutes is not None:
        raise Unprocessable(f"{condition} takes a price, not percent or window_minutes")
    if spec.price is None:
        raise Unprocessable(f"{condition} needs a price")
    if spec.price <= 0:
        raise Unprocessable("price must be positive")
    row.price, row.percent, row.window_minutes = spec.price, None, None


async def purge_history(
    sessions: async_sessionmaker[AsyncSession], now: datetime, retention_days: int
) -> int:
    """Delete alerts (and their deliveries) older than the retention; returns how many."""
    cutoff = now - timedelta(days=retention_days)
    async with transaction(sessions) as session:
        old = select(Alert.id).where(Alert.created_at < cutoff)
        await session.execute(delete(AlertDelivery).where(AlertDelivery.alert_id.in_(old)))
        result = await session.execute(delete(Alert).where(Alert.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
