"""Alerts from events (one per event), deliveries with retries and back-off, retention."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from analytics_service.alerts import channels
from analytics_service.alerts.consumer import AlertConsumer
from analytics_service.alerts.delivery import DeliveryWorker
from analytics_service.alerts.rules import AlertDraft
from analytics_service.alerts.service import purge_history
from analytics_service.alerts.store import record
from shared.alerts import AlertKind, FeedStatusMsg, Severity, SubscriptionErrorMsg, alerts_channel
from shared.bus import InProcessEventBus
from shared.clock import EventClock
from shared.contracts import (
    CHANNEL_CONTROL,
    ControlEvent,
    MarketStatusMsg,
    OrderEvent,
    OrderStatus,
    OrderType,
    Product,
    Side,
    Validity,
    user_channel,
)
from shared.db import transaction
from shared.models import Alert, AlertChannel, AlertDelivery, Fill, Order, TradingHalt
from shared.security.secrets import SecretBox

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def order(user: int, account: int, status: OrderStatus, **kw) -> OrderEvent:
    base = dict(
        event_id=f"e-{status}-{kw.get('version', 1)}",
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
        status=status,
        quantity=Decimal(10),
        filled_quantity=Decimal(10) if status is OrderStatus.FILLED else Decimal(0),
        average_price=Decimal("1500.5"),
        origin="manual",
        created_at=NOW,
        ts=NOW,
    )
    base.update(kw)
    return OrderEvent(**base)


async def alerts_of(db, user: int) -> list[Alert]:
    async with db.sessions() as s:
        return list(
            (await s.scalars(select(Alert).where(Alert.user_id == user).order_by(Alert.id))).all()
        )


@pytest.mark.parametrize(
    ("status", "extra", "kind", "severity"),
    [
        (OrderStatus.FILLED, {}, AlertKind.ORDER_FILLED, Severity.INFO),
        (
            OrderStatus.PARTIALLY_FILLED,
            {"filled_quantity": Decimal(4)},
            AlertKind.ORDER_PARTIALLY_FILLED,
            Severity.INFO,
        ),
        (
            OrderStatus.DENIED,
            {"reason_code": "max_order_value", "reason": "too big"},
            AlertKind.ORDER_DENIED,
            Severity.WARNING,
        ),
        (
            OrderStatus.DENIED,
            {"reason_code": "daily_loss_limit", "reason": "down 3%"},
            AlertKind.RISK_LIMIT,
            Severity.ERROR,
        ),
        (
            OrderStatus.REJECTED,
            {"reason_code": "rms", "reason": "no margin"},
            AlertKind.ORDER_REJECTED,
            Severity.ERROR,
        ),
        (
            OrderStatus.FILLED,
            {"origin": "system", "algo_tag": "mis_square_off"},
            AlertKind.POSITION_SQUARED_OFF,
            Severity.WARNING,
        ),
    ],
)
async def test_order_events_raise_their_alert(db, status, extra, kind, severity):
    consumer = AlertConsumer(db.sessions, InProcessEventBus(), EventClock(NOW))
    user, account = db.users[0], db.accounts[0]
    await consumer.handle([(user_channel(user), order(user, account, status, **extra))])
    [alert] = await alerts_of(db, user)
    assert (alert.kind, alert.severity) == (kind, severity)
    if status is OrderStatus.DENIED:
        assert extra["reason"] in alert.body + alert.title
    assert await alerts_of(db, db.users[1]) == []


async def test_the_same_event_delivered_twice_makes_one_alert(db):
    user, account = db.users[0], db.accounts[0]
    event = order(user, account, OrderStatus.FILLED)
    for _ in range(2):  # a fresh consumer each time: the database, not memory, holds the key
        consumer = AlertConsumer(db.sessions, InProcessEventBus(), EventClock(NOW))
        await consumer.handle([(user_channel(user), event), (user_channel(user), event)])
    assert len(await alerts_of(db, user)) == 1


async def test_open_and_pending_states_raise_nothing(db):
    consumer = AlertConsumer(db.sessions, InProcessEventBus(), EventClock(NOW))
    user, account = db.users[0], db.accounts[0]
    for status in (OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.CANCELLED):
        await consumer.handle([(user_channel(user), order(user, account, status))])
    assert await alerts_of(db, user) == []


async def test_kill_switch_of_a_user_by_admin_and_global_halt(db):
    u0, u1 = db.users
    async with transaction(db.sessions) as s:
        s.add(TradingHalt(user_id=u0, reason="ops", created_by=999, created_at=NOW))
    consumer = AlertConsumer(db.sessions, InProcessEventBus(), EventClock(NOW))
    await consumer.handle(
        [
            (
                CHANNEL_CONTROL,
                ControlEvent(event_id="h1", action="halt", user_id=u0, reason="ops", ts=NOW),
            ),
            (
                CHANNEL_CONTROL,
                ControlEvent(event_id="h2", action="halt", user_id=None, reason="exchange", ts=NOW),
            ),
            (CHANNEL_CONTROL, ControlEvent(event_id="h3", action="subscription_changed", ts=NOW)),
        ]
    )
    first = await alerts_of(db, u0)
    assert [a.kind for a in first] == [AlertKind.KILL_SWITCH] * 2
    assert "administrator" in first[0].title and first[0].severity == Severity.CRITICAL
    assert first[1].data["scope"] == "global"
    assert [a.data["scope"] for a in await alerts_of(db, u1)] == ["global"]


async def test_feed_subscription_error_and_daily_summary(db):
    u0, u1 = db.users
    consumer = AlertConsumer(db.sessions, InProcessEventBus(), EventClock(NOW))
    async with transaction(db.sessions) as s:
        row = Order(
            user_id=u0,
            broker_account_id=db.accounts[0],
            client_order_id="x",
            request_hash="h",
            symbol="INFY",
            side="BUY",
            quantity=Decimal(1),
            order_type="MARKET",
            product="MIS",
            validity="DAY",
            status="FILLED",
            origin="manual",
        )
        s.add(row)
        await s.flush()
        for charge in ("1.25", "2.5"):
            s.add(
                Fill(
                    order_id=row.id,
                    user_id=u0,
                    broker_account_id=db.accounts[0],
                    symbol="INFY",
                    side="BUY",
                    quantity=Decimal(1),
                    price=Decimal(100),
                    charges=Decimal(charge),
                    ts=NOW,
                )
            )
    close = MarketStatusMsg(
        exchange="NSE",
        timezone="Asia/Kolkata",
        is_open=False,
        reason="after_close",
        trading_day=NOW.date(),
        session_open=NOW - timedelta(hours=6),
        session_close=NOW + timedelta(hours=1),
        message="closed",
        ts=NOW + timedelta(hours=1),
    )
    await consumer.handle(
        [
            ("feed:status", FeedStatusMsg(feed="simulated", state="stale", ts=NOW)),
            (
                user_channel(u1),
                SubscriptionErrorMsg(
                    event_id="s1", user_id=u1, subscription_id=3, reason="strategy error", ts=NOW
                ),
            ),
            ("md:status", close),
            ("md:status", close),
        ]
    )
    kinds0 = [a.kind for a in await alerts_of(db, u0)]
    kinds1 = [a.kind for a in await alerts_of(db, u1)]
    assert kinds0 == [AlertKind.FEED_STALE, AlertKind.DAILY_SUMMARY]
    assert kinds1 == [AlertKind.FEED_STALE, AlertKind.SUBSCRIPTION_ERROR]
    summary = (await alerts_of(db, u0))[1]
    assert summary.data["accounts"][0]["trades"] == 2
    assert summary.data["accounts"][0]["charges"] == "3.75"


async def test_alert_is_pushed_on_the_users_alerts_channel(db):
    bus = InProcessEventBus()
    sub = await bus.subscribe([alerts_channel(db.users[0])])
    consumer = AlertConsumer(db.sessions, bus, EventClock(NOW))
    await consumer.handle(
        [(user_channel(db.users[0]), order(db.users[0], db.accounts[0], OrderStatus.FILLED))]
    )
    got = await sub.get(1.0)
    assert got is not None and got[1].alert_kind == AlertKind.ORDER_FILLED


async def _channel(db, user: int, **kw) -> int:
    box = SecretBox(db.settings.secrets_encryption_keys)
    async with transaction(db.sessions) as s:
        row = AlertChannel(
            user_id=user,
            kind="webhook",
            name="hook",
            enabled=True,
            severities=kw.get("severities", [s.value for s in Severity]),
            kinds=kw.get("kinds", []),
            config={"url": "https://example.com/hook"},
            secrets_encrypted=box.encrypt(json.dumps({"secret": "whsec_x"})),
        )
        s.add(row)
        await s.flush()
        return row.id


async def test_channel_filters_choose_the_deliveries(db):
    user = db.users[0]
    await _channel(db, user, severities=["ERROR", "CRITICAL"])
    wanted = await _channel(db, user, kinds=["order_filled"])
    consumer = AlertConsumer(db.sessions, InProcessEventBus(), EventClock(NOW))
    await consumer.handle([(user_channel(user), order(user, db.accounts[0], OrderStatus.FILLED))])
    async with db.sessions() as s:
        rows = (await s.scalars(select(AlertDelivery))).all()
    assert [r.channel_id for r in rows] == [wanted]


async def test_a_channel_takes_the_severities_it_has_on_and_no_others(db):
    user = db.users[0]
    gapped = await _channel(db, user, severities=["CRITICAL", "WARNING"])
    drafts = [
        AlertDraft(user, AlertKind.RISK_LIMIT, severity, str(severity), "", f"sev:{severity}")
        for severity in Severity
    ]
    async with transaction(db.sessions) as s:
        await record(s, drafts, NOW)
    async with db.sessions() as s:
        got = (
            await s.execute(
                select(Alert.severity)
                .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
                .where(AlertDelivery.channel_id == gapped)
                .order_by(Alert.id)
            )
        ).scalars()
        assert list(got) == ["WARNING", "CRITICAL"]


async def test_delivery_retries_with_backoff_then_records_the_failure(db, monkeypatch):
    user = db.users[0]
    channel_id = await _channel(db, user)
    sent: list[tuple[str, dict]] = []
    fail = {"left": 99}

    async def fake_send(kind, config, message, *, settings, client=None):
        sent.append((message.alert_id, dict(config)))
        if fail["left"]:
            fail["left"] -= 1
            raise channels.DeliveryError("HTTP 503 from the receiver", retryable=True)

    monkeypatch.setattr(channels, "send", fake_send)
    clock = EventClock(NOW)
    settings = db.settings.model_copy(
        update={"alerts_delivery_max_attempts": 3, "alerts_delivery_backoff_seconds": 10.0}
    )
    worker = DeliveryWorker(db.sessions, settings, clock)
    consumer = AlertConsumer(db.sessions, InProcessEventBus(), clock)
    await consumer.handle([(user_channel(user), order(user, db.accounts[0], OrderStatus.FILLED))])

    assert (await worker.run_once()).retried == 1
    assert sent[0][1]["secret"] == "whsec_x"  # secrets decrypted for the sender only
    assert (await worker.run_once()).handled == 0  # not due before the back-off
    clock.advance_to(NOW + timedelta(seconds=10))
    assert (await worker.run_once()).retried == 1
    clock.advance_to(NOW + timedelta(seconds=29))
    assert (await worker.run_once()).handled == 0  # the second wait doubles (20 s)
    clock.advance_to(NOW + timedelta(seconds=30))
    assert (await worker.run_once()).failed == 1
    async with db.sessions() as s:
        row = (
            await s.scalars(select(AlertDelivery).where(AlertDelivery.channel_id == channel_id))
        ).one()
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "HTTP 503 from the receiver")
    assert len({alert_id for alert_id, _ in sent}) == 1


async def test_delivery_succeeds_after_a_retry_and_a_permanent_error_is_not_retried(
    db, monkeypatch
):
    user = db.users[0]
    await _channel(db, user)
    outcomes = [channels.DeliveryError("timeout", retryable=True), None]

    async def fake_send(kind, config, message, *, settings, client=None):
        if message.alert_kind == AlertKind.ORDER_REJECTED:
            raise channels.DeliveryError("HTTP 404", retryable=False)
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    monkeypatch.setattr(channels, "send", fake_send)
    clock = EventClock(NOW)
    worker = DeliveryWorker(db.sessions, db.settings, clock)
    consumer = AlertConsumer(db.sessions, InProcessEventBus(), clock)
    await consumer.handle(
        [
            (user_channel(user), order(user, db.accounts[0], OrderStatus.FILLED)),
            (
                user_channel(user),
                order(user, db.accounts[0], OrderStatus.REJECTED, order_id=8, event_id="r"),
            ),
        ]
    )
    first = await worker.run_once()
    assert (first.retried, first.failed) == (1, 1)
    clock.advance_to(NOW + timedelta(hours=1))
    assert (await worker.run_once()).sent == 1


async def test_retention_purges_old_alerts_only(db):
    user = db.users[0]
    for when, eid in ((NOW - timedelta(days=100), "old"), (NOW, "new")):
        consumer = AlertConsumer(db.sessions, InProcessEventBus(), EventClock(when))
        await consumer.handle(
            [
                (
                    user_channel(user),
                    order(
                        user,
                        db.accounts[0],
                        OrderStatus.FILLED,
                        event_id=eid,
                        order_id=hash(eid) % 1000,
                    ),
                )
            ]
        )
    assert await purge_history(db.sessions, NOW, 90) == 1
    async with db.sessions() as s:
        assert await s.scalar(select(func.count(Alert.id))) == 1


async def test_embedded_alerts_turn_a_published_event_into_a_delivered_alert(db, monkeypatch):
    from algotrade.runtime import build_runtime
    from analytics_service.alerts import embedded

    user = db.users[0]
    await _channel(db, user)
    delivered = asyncio.Event()

    async def fake_send(kind, config, message, *, settings, client=None):
        delivered.set()

    monkeypatch.setattr(channels, "send", fake_send)
    runtime = build_runtime(db.settings)
    service = await embedded.start(runtime)
    try:
        event = order(user, db.accounts[0], OrderStatus.FILLED)
        await runtime.bus.publish(user_channel(user), event)
        await asyncio.wait_for(delivered.wait(), 10)
    finally:
        await service.stop()
        await runtime.bus.close()
        await runtime.engine.dispose()
    assert [a.kind for a in await alerts_of(db, user)] == [AlertKind.ORDER_FILLED]


async def _stored_order(db, n: int, status: str, updated_at: datetime, **kw) -> int:
    async with transaction(db.sessions) as s:
        row = Order(
            user_id=db.users[0],
            broker_account_id=db.accounts[0],
            client_order_id=f"missed-{n}",
            request_hash="h",
            symbol="INFY",
            side="BUY",
            quantity=Decimal(10),
            filled_quantity=Decimal(10) if status == "FILLED" else Decimal(0),
            average_price=Decimal("1500.5") if status == "FILLED" else None,
            order_type="MARKET",
            product="MIS",
            validity="DAY",
            status=status,
            origin="manual",
            created_at=updated_at,
            updated_at=updated_at,
            **kw,
        )
        s.add(row)
        await s.flush()
        return row.id


async def test_a_start_makes_the_alerts_of_order_states_missed_while_down(db):
    """Fills and denials while no consumer listened reach the trader once it starts; states
    with no alert, orders older than the look back and alerts made already are left alone."""
    user = db.users[0]
    filled = await _stored_order(db, 1, "FILLED", NOW - timedelta(minutes=3))
    denied = await _stored_order(
        db, 2, "DENIED", NOW - timedelta(minutes=2), reason_code="max_order_value", reason="big"
    )
    await _stored_order(db, 3, "OPEN", NOW - timedelta(minutes=1))
    await _stored_order(db, 4, "FILLED", NOW - timedelta(days=3))  # beyond the look back
    bus = InProcessEventBus()
    pushed = await bus.subscribe([alerts_channel(user)])
    consumer = AlertConsumer(db.sessions, bus, EventClock(NOW))
    await consumer.start()
    await consumer.stop()
    got = await alerts_of(db, user)
    assert sorted((a.kind, a.data["order_id"]) for a in got) == sorted(
        [(AlertKind.ORDER_FILLED, filled), (AlertKind.ORDER_DENIED, denied)]
    )
    assert pushed.qsize() == 2  # pushed on the trader's alerts channel as live ones are
    # Started again, and the live event of the fill arriving late: no second alert.
    again = AlertConsumer(db.sessions, InProcessEventBus(), EventClock(NOW + timedelta(minutes=1)))
    assert await again.catch_up() == []
    late = order(user, db.accounts[0], OrderStatus.FILLED, order_id=filled, event_id="late")
    assert await again.handle([(user_channel(user), late)]) == []
    assert len(await alerts_of(db, user)) == 2


async def test_the_look_back_starts_shortly_before_the_newest_alert(db):
    user = db.users[0]
    async with transaction(db.sessions) as s:
        await record(
            s, [AlertDraft(user, AlertKind.TEST, Severity.INFO, "t", "", "test:1", {})], NOW
        )
    await _stored_order(db, 1, "FILLED", NOW - timedelta(hours=2))  # before the newest alert
    recent = await _stored_order(db, 2, "FILLED", NOW - timedelta(minutes=1))
    later = EventClock(NOW + timedelta(hours=1))
    made = await AlertConsumer(db.sessions, InProcessEventBus(), later).catch_up()
    assert len(made) == 1
    assert [a.data["order_id"] for a in await alerts_of(db, user) if a.kind != AlertKind.TEST] == [
        recent
    ]
