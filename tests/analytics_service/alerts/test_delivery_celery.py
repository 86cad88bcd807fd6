"""Distributed profile: alert deliveries leave the event path as Celery tasks, taken by a real
worker process on Redis, sent to a local webhook receiver (the loopback test setting)."""

from __future__ import annotations

import asyncio
import itertools
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from algotrade.migrate import upgrade
from analytics_service.alerts import tasks
from analytics_service.alerts.main import AlertsProcess, celery_sender
from analytics_service.alerts.rules import AlertDraft
from analytics_service.alerts.service import AlertFilter, AlertsService, ChannelSpec
from analytics_service.alerts.store import record
from shared.alerts import AlertKind, ChannelKind, Severity
from shared.bus import create_event_bus
from shared.clock import SystemClock
from shared.config import Settings
from shared.contracts import (
    OrderEvent,
    OrderStatus,
    OrderType,
    Product,
    Side,
    Validity,
    user_channel,
)
from shared.db import create_engine, create_sessionmaker, transaction
from shared.models import AlertDelivery, BrokerAccount, User
from tests.analytics_service.alerts_channels.receiver import Receiver, Reply
from tests.servers import ProcessServer

pytestmark = pytest.mark.service

ROOT = Path(__file__).resolve().parents[3]
_dbs = itertools.count(1)


def alerts_worker(settings: Settings, key: str) -> ProcessServer:
    """A real Celery worker of the analytics app on the ``alerts`` queue."""
    env = {
        "ALGOTRADE_ENVIRONMENT": "development",
        "ALGOTRADE_PROFILE": "distributed",
        "ALGOTRADE_DATABASE_URL": settings.sqlalchemy_url,
        "ALGOTRADE_REDIS_HOST": settings.redis_host,
        "ALGOTRADE_REDIS_PORT": str(settings.redis_port),
        "ALGOTRADE_REDIS_DB": "0",
        "ALGOTRADE_REDIS_CLUSTER_MODE": "false",
        "ALGOTRADE_SECRETS_ENCRYPTION_KEYS": key,
        "ALGOTRADE_ALERTS_ALLOW_LOOPBACK": "true",
        "ALGOTRADE_ALERTS_DELIVERY_BACKOFF_SECONDS": "0.3",
        "ALGOTRADE_ALERTS_DELIVERY_MAX_ATTEMPTS": "3",
    }
    argv = [sys.executable, "-m", "celery", "-A", "analytics_service.celery_app", "worker"]
    argv += ["--pool=solo", "-c", "1", "-Q", "alerts", "--without-gossip"]
    argv += ["--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
    return ProcessServer(argv, env=env, cwd=ROOT, name="celery-alerts", stop_signal=15)


@dataclass
class Stack:
    settings: Settings
    sessions: object
    user: int
    account: int


@pytest.fixture
async def stack(postgres_server, redis_server) -> AsyncIterator[Stack]:
    name = f"alerts_celery_{next(_dbs)}_{uuid.uuid4().hex[:6]}"
    postgres_server.create_database(name)
    key = Fernet.generate_key().decode()
    settings = Settings(
        _env_file=None,
        environment="development",
        profile="distributed",
        db_host=postgres_server.host,
        db_port=postgres_server.port,
        db_name=name,
        db_user=postgres_server.user,
        redis_host=redis_server.host,
        redis_port=redis_server.port,
        redis_cluster_mode=False,
        secrets_encryption_keys=[key],
        alerts_allow_loopback=True,
    )
    await asyncio.to_thread(upgrade, settings.migration_url)
    engine = create_engine(settings)
    sessions = create_sessionmaker(engine)
    async with transaction(sessions) as session:
        user = User(email="celery@example.com", password_hash="x", full_name="C")
        session.add(user)
        await session.flush()
        account = BrokerAccount(
            user_id=user.id,
            broker="paper",
            label="paper",
            starting_capital=Decimal(50000),
            currency="INR",
        )
        session.add(account)
        await session.flush()
        ids = (user.id, account.id)
    worker = alerts_worker(settings, key)
    await asyncio.to_thread(worker.start)
    try:
        yield Stack(settings, sessions, *ids)
    finally:
        await asyncio.to_thread(worker.stop)
        await engine.dispose()


async def webhook(stack: Stack, url: str) -> int:
    async with transaction(stack.sessions) as session:  # type: ignore[arg-type]
        service = AlertsService(session, stack.user, settings=stack.settings, now=datetime.now(UTC))
        view = await service.create_channel(
            ChannelSpec(kind=ChannelKind.WEBHOOK, config={"url": url})
        )
    return view.channel.id


async def raise_alert(stack: Stack, key: str) -> list:
    draft = AlertDraft(stack.user, AlertKind.ORDER_FILLED, Severity.INFO, key, "b", key, {})
    async with transaction(stack.sessions) as session:  # type: ignore[arg-type]
        return await record(session, [draft], datetime.now(UTC))


async def until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


def filled(user: int, account: int) -> OrderEvent:
    now = datetime.now(UTC)
    return OrderEvent(
        event_id=f"e-{uuid.uuid4().hex}",
        user_id=user,
        order_id=7,
        version=1,
        broker_account_id=account,
        client_order_id="c1",
        symbol="INFY",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        product=Product.MIS,
        validity=Validity.DAY,
        status=OrderStatus.FILLED,
        quantity=Decimal(10),
        filled_quantity=Decimal(10),
        average_price=Decimal("1500.5"),
        origin="manual",
        created_at=now,
        ts=now,
    )


async def test_an_event_on_the_bus_is_delivered_by_a_celery_worker_once_per_alert(stack):
    async with Receiver() as receiver:
        await webhook(stack, receiver.url("/hook"))
        bus = create_event_bus(stack.settings)
        sender = celery_sender(stack.settings)
        process = AlertsProcess(stack.settings, stack.sessions, bus, SystemClock(), sender)  # type: ignore[arg-type]
        await process.start()
        try:
            await bus.publish(user_channel(stack.user), filled(stack.user, stack.account))
            await until(lambda: len(receiver.requests) == 1)
            first = receiver.requests[0]
            alert_id = first.headers["x-algotrade-alert-id"]
            assert first.json()["alert_kind"] == "order_filled"

            # The same task again (a redelivery): the row is sent, nothing goes out. A later
            # alert's task, queued behind it on the one worker, shows it has been handled.
            async with stack.sessions() as session:  # type: ignore[attr-defined]
                ids = list((await session.scalars(select(AlertDelivery.id))).all())
            await asyncio.to_thread(tasks.send, sender, alert_id, ids)
            later = await raise_alert(stack, "later")
            await asyncio.to_thread(tasks.enqueue, sender, later)
            await until(lambda: len(receiver.requests) == 2)
            await asyncio.sleep(0.5)
        finally:
            await process.stop()
            await bus.close()
    assert [r.headers["x-algotrade-alert-id"] for r in receiver.requests] == [
        alert_id,
        later[0].message.alert_id,
    ]
    async with stack.sessions() as session:  # type: ignore[attr-defined]
        rows = (await session.scalars(select(AlertDelivery))).all()
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}


async def test_a_failing_receiver_is_retried_by_the_task_and_the_history_shows_the_last_error(
    stack,
):
    async with Receiver(lambda _: Reply(503, b"busy")) as receiver:
        await webhook(stack, receiver.url("/hook"))
        recorded = await raise_alert(stack, "retried")
        sender = celery_sender(stack.settings)
        await asyncio.to_thread(tasks.enqueue, sender, recorded)
        await until(lambda: len(receiver.requests) == 3)
        await asyncio.sleep(1.0)  # no fourth attempt: three is the most
    assert len(receiver.requests) == 3
    assert {r.headers["x-algotrade-alert-id"] for r in receiver.requests} == {
        recorded[0].message.alert_id
    }
    async with stack.sessions() as session:  # type: ignore[attr-defined]
        service = AlertsService(session, stack.user, settings=stack.settings, now=datetime.now(UTC))
        page = await service.history(10, 0, AlertFilter())
    (delivery,) = page.items[0].deliveries
    assert delivery["status"] == "failed" and delivery["attempts"] == 3
    assert "503" in delivery["last_error"]


async def test_a_sweep_task_sends_deliveries_whose_task_was_never_sent(stack):
    async with Receiver() as receiver:
        await webhook(stack, receiver.url("/hook"))
        recorded = await raise_alert(stack, "orphan")  # committed, no task sent
        await asyncio.to_thread(tasks.send, celery_sender(stack.settings), None, [])
        await until(lambda: len(receiver.requests) == 1)
    assert receiver.requests[0].headers["x-algotrade-alert-id"] == recorded[0].message.alert_id
