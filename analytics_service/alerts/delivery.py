"""The delivery loop: sends queued alert deliveries to their channels, at least once.

Each pass claims the due ``pending`` rows (moves their ``next_attempt_at`` past a lease
with a conditional update, so two loops never send the same row at once; a loop that
dies mid-send leaves the row to be claimed again once the lease ends), sends them
outside any transaction, then records the outcome: ``sent``; ``pending`` again after a
back-off when the failure may pass; ``failed`` with the last error once it cannot, or
after the last attempt. A (user, channel) over its rate limit is postponed, not
counted as an attempt. Receivers drop a second copy by the message's ``alert_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics_service.alerts import channels
from analytics_service.alerts.store import FAILED, PENDING, SENT, to_message
from shared.alerts import ChannelKind
from shared.clock import Clock
from shared.config import Settings
from shared.db import transaction
from shared.models import Alert, AlertChannel, AlertDelivery
from shared.ratelimit import RateLimiter
from shared.security.secrets import SecretBox

log = logging.getLogger(__name__)

LEASE_S = 120.0
"""How long a claimed delivery is left to its sender before another loop may claim it."""


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds before attempt ``attempts + 1``: ``base``, doubling, at most ``cap``."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def channel_config(channel: AlertChannel, box: SecretBox) -> dict[str, object]:
    """A channel's whole configuration: the public fields and the decrypted secret ones."""
    config: dict[str, object] = dict(channel.config)
    if channel.secrets_encrypted:
        config.update(json.loads(box.decrypt(channel.secrets_encrypted)))
    return config


@dataclass
class PassResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    postponed: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.postponed


@dataclass(frozen=True)
class _Outcome:
    status: str
    error: str | None = None
    retry_after: float | None = None
    attempted: bool = True


class DeliveryWorker:
    """Sends due deliveries; ``run`` loops (embedded), ``run_once`` is one pass (a Celery task)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Clock,
        *,
        limiter: RateLimiter | None = None,
        box: SecretBox | None = None,
        client: httpx.AsyncClient | None = None,
        batch: int = 100,
        concurrency: int = 8,
        lease_s: float = LEASE_S,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.limiter = limiter
        self.box = box or SecretBox(settings.secrets_encryption_keys)
        self.client = client
        self.batch = batch
        self.lease_s = lease_s
        self._gate = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Run the next pass now (new deliveries were queued)."""
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled: a pass every ``alerts_delivery_every_seconds`` or when woken."""
        while True:
            try:
                result = await self.run_once()
                if result.handled >= self.batch:
                    continue  # more are due
            except Exception:
                log.exception("alert delivery pass failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.alerts_delivery_every_seconds):
                    await self._wake.wait()
            self._wake.clear()

    async def run_once(self) -> PassResult:
        """Claim and send the deliveries due now."""
        return await self._send_all(await self._claim(self.clock.now()))

    async def run_ids(
        self, delivery_ids: Sequence[int], alert_id: str | None = None
    ) -> tuple[PassResult, datetime | None]:
        """Claim and send these deliveries (of the alert ``alert_id``, when given) if they are
        pending and due: a second run of the same ids finds them sent, or leased, and does
        nothing. Returns the pass and when the earliest of them still pending is due."""
        alert = _uuid(alert_id) if alert_id is not None else None
        if not delivery_ids or (alert_id is not None and alert is None):
            return PassResult(), None
        claimed = await self._claim(self.clock.now(), ids=delivery_ids, alert=alert)
        result = await self._send_all(claimed)
        async with self.sessions() as session:
            due = await session.scalar(
                select(AlertDelivery.next_attempt_at)
                .where(AlertDelivery.id.in_(list(delivery_ids)), AlertDelivery.status == PENDING)
                .order_by(AlertDelivery.next_attempt_at)
                .limit(1)
            )
        return result, due

    async def _send_all(self, claimed: list[int]) -> PassResult:
        result = PassResult()
        if claimed:
            outcomes = await asyncio.gather(*(self._deliver(i) for i in claimed))
            for outcome in outcomes:
                if not outcome.attempted:
                    result.postponed += 1
                elif outcome.status == SENT:
                    result.sent += 1
                elif outcome.status == FAILED:
                    result.failed += 1
                else:
                    result.retried += 1
        return result

    async def next_due(self) -> datetime | None:
        """When the earliest pending delivery is due (None: nothing pending)."""
        async with self.sessions() as session:
            return await session.scalar(
                select(AlertDelivery.next_attempt_at)
                .where(AlertDelivery.status == PENDING)
                .order_by(AlertDelivery.next_attempt_at)
                .limit(1)
            )

    async def _claim(
        self,
        now: datetime,
        *,
        ids: Sequence[int] | None = None,
        alert: uuid.UUID | None = None,
    ) -> list[int]:
        lease = now + timedelta(seconds=self.lease_s)
        stmt = select(AlertDelivery.id, AlertDelivery.next_attempt_at).where(
            AlertDelivery.status == PENDING, AlertDelivery.next_attempt_at <= now
        )
        if ids is not None:
            stmt = stmt.where(AlertDelivery.id.in_(list(ids)))
        if alert is not None:
            stmt = stmt.join(Alert, Alert.id == AlertDelivery.alert_id).where(
                Alert.alert_id == alert
            )
        async with transaction(self.sessions) as session:
            due = (
                await session.execute(
                    stmt.order_by(AlertDelivery.next_attempt_at, AlertDelivery.id).limit(self.batch)
                )
            ).all()
            claimed = []
            for row_id, was in due:
                taken = await session.execute(
                    update(AlertDelivery)
                    .where(
                        AlertDelivery.id == row_id,
                        AlertDelivery.status == PENDING,
                        AlertDelivery.next_attempt_at == was,
                    )
                    .values(next_attempt_at=lease)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(row_id)
        return claimed

    async def _deliver(self, delivery_id: int) -> _Outcome:
        async with self._gate:
            async with self.sessions() as session:
                delivery = await session.get(AlertDelivery, delivery_id)
                if delivery is None:
                    return _Outcome(FAILED, attempted=False)
                channel = await session.get(AlertChannel, delivery.channel_id)
                alert = await session.get(Alert, delivery.alert_id)
                attempts = delivery.attempts
            outcome = await self._attempt(channel, alert, attempts)
            await self._settle(delivery_id, attempts, outcome)
            return outcome

    async def _attempt(
        self, channel: AlertChannel | None, alert: Alert | None, attempts: int
    ) -> _Outcome:
        if channel is None or alert is None:
            return _Outcome(FAILED, "the channel or the alert no longer exists")
        if not channel.enabled:
            return _Outcome(FAILED, "the channel was turned off")
        if self.limiter is not None:
            s = self.settings
            wait = await self.limiter.acquire(
                f"alerts:{channel.user_id}:{channel.id}",
                s.alerts_channel_rate_per_minute / 60.0,
                s.alerts_channel_burst,
            )
            if wait > 0:
                return _Outcome(PENDING, "rate limited", retry_after=wait, attempted=False)
        try:
            config = channel_config(channel, self.box)
        except ValueError as exc:
            return _Outcome(FAILED, f"the channel's secrets cannot be read: {exc}")
        try:
            await channels.send(
                ChannelKind(channel.kind),
                config,
                to_message(alert),
                settings=self.settings,
                client=self.client,
            )
        except channels.DeliveryError as exc:
            final = not exc.retryable or attempts + 1 >= self.settings.alerts_delivery_max_attempts
            return _Outcome(FAILED if final else PENDING, exc.reason[:1000], exc.retry_after)
        except Exception as exc:  # a sender bug must not stop the loop; retried like a timeout
            log.exception("sending alert %s on channel %s failed", alert.alert_id, channel.id)
            final = attempts + 1 >= self.settings.alerts_delivery_max_attempts
            return _Outcome(FAILED if final else PENDING, f"{type(exc).__name__}: {exc}"[:1000])
        return _Outcome(SENT)

    async def _settle(self, delivery_id: int, attempts: int, outcome: _Outcome) -> None:
        now = self.clock.now()
        s = self.settings
        values: dict[str, object] = {"status": outcome.status}
        if outcome.attempted:
            values["attempts"] = attempts + 1
            values["last_error"] = outcome.error
        if outcome.status == SENT:
            values["sent_at"] = now
        elif outcome.status == PENDING:
            wait = outcome.retry_after
            if outcome.attempted:
                wait = max(
                    wait or 0.0,
                    backoff(
                        attempts + 1,
                        s.alerts_delivery_backoff_seconds,
                        s.alerts_delivery_backoff_max_seconds,
                    ),
                )
            values["next_attempt_at"] = now + timedelta(seconds=wait or 0.0)
        async with transaction(self.sessions) as session:
            await session.execute(
                update(AlertDelivery).where(AlertDelivery.id == delivery_id).values(**values)
            )
