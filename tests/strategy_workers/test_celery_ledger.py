"""The evaluation task and the ledger, run in this process (Celery's ``apply``) on a real Redis:
the record is held while the task waits to retry, and forgotten once the task is finished
whatever the outcome (a malformed payload dropped, retries run out)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from celery import Celery

import strategy_workers.celery_app as celery_app
from shared.config import Settings
from shared.contracts import EVALUATION_LEDGER_DUE, TASK_EVALUATE_CANDLES, CandleMsg, Timeframe
from shared.task_ledger import EvaluationLedger, LedgerEntry
from strategy_workers.celery_app import create_celery_app
from strategy_workers.options import WorkerOptions
from tests.servers import RedisServer

pytestmark = pytest.mark.service

CLOSED = datetime(2026, 1, 5, 9, 16, tzinfo=UTC)
TIMEOUT = 300.0


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis(host=redis_server.host, port=redis_server.port, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def app(redis_server: RedisServer) -> Iterator[Celery]:
    settings = Settings(_env_file=None, redis_host=redis_server.host, redis_port=redis_server.port)
    options = WorkerOptions(_env_file=None, max_retries=2, task_timeout=TIMEOUT)
    app = create_celery_app(settings, options)
    yield app
    app.close()


def payload() -> list[dict]:
    candle = CandleMsg(
        symbol="INFY", timeframe=Timeframe.M1, start=CLOSED - timedelta(minutes=1), end=CLOSED,
        open=1.0, high=1.0, low=1.0, close=1.0, volume=1.0, trades=1,
    )  # fmt: skip
    return [candle.model_dump(mode="json")]


def record(client: redis.Redis, task_id: str, candles: list[dict]) -> EvaluationLedger:
    ledger = EvaluationLedger(client)
    ledger.record([LedgerEntry(task_id, candles, CLOSED.isoformat(), "strategy_workers")])
    return ledger


def test_a_task_dropped_as_malformed_leaves_the_ledger(app, client):
    ledger = record(client, "malformed", [{"symbol": "INFY"}])

    result = app.tasks[TASK_EVALUATE_CANDLES].apply(
        args=[[{"symbol": "INFY"}]], kwargs={"closed_at": CLOSED.isoformat()}, task_id="malformed"
    )

    assert result.get() == {"candles": 0}
    assert ledger.get("malformed") is None and ledger.size() == 0


def test_a_task_out_of_retries_leaves_the_ledger(app, client, monkeypatch):
    calls = []

    def broken(settings, options):
        calls.append(ledger.get("failing"))
        raise ConnectionError("the database is away")

    monkeypatch.setattr(celery_app, "runtime_for", broken)
    ledger = record(client, "failing", payload())

    result = app.tasks[TASK_EVALUATE_CANDLES].apply(
        args=[payload()], kwargs={"closed_at": CLOSED.isoformat()}, task_id="failing"
    )

    assert isinstance(result.result, ConnectionError)
    assert len(calls) == 3 and all(held is not None for held in calls)  # held while retrying
    assert ledger.get("failing") is None and ledger.size() == 0


def test_a_task_that_will_retry_is_held_past_its_countdown_and_a_span(app, client, monkeypatch):
    ledger = record(client, "retrying", payload())
    held: list[float | None] = []

    def broken(settings, options):
        raise ConnectionError("the database is away")

    def once(*args, **kwargs):  # stop after the first retry is asked for
        held.append(client.zscore(EVALUATION_LEDGER_DUE, "retrying"))
        raise RuntimeError("no retry in this test")

    monkeypatch.setattr(celery_app, "runtime_for", broken)
    task = app.tasks[TASK_EVALUATE_CANDLES]
    monkeypatch.setattr(task, "retry", once)
    started = time.time()

    task.apply(args=[payload()], kwargs={"closed_at": CLOSED.isoformat()}, task_id="retrying")

    [due] = held
    span = app.conf["algotrade_ledger"].redispatch_after
    assert due is not None and due >= started + span + 1  # countdown 1 s on the first try
    assert ledger.get("retrying") is not None


def test_a_running_task_renews_its_hold_and_stops_when_it_ends(app, client, monkeypatch):
    """Held a short span at a time, renewed while it runs: a worker killed mid-task stops
    renewing, and its task falls due about one span later (not after the task timeout)."""
    span = 0.4
    ledger = EvaluationLedger(client, redispatch_after=span)
    ledger.record([LedgerEntry("slow", payload(), CLOSED.isoformat(), "strategy_workers")])
    app.conf["algotrade_ledger"] = ledger
    seen: list[float] = []

    class Slow:
        def evaluate(self, burst, closed):
            for _ in range(8):  # 1.2 s, three spans
                time.sleep(0.15)
                seen.append(float(client.zscore(EVALUATION_LEDGER_DUE, "slow")))
            raise ConnectionError("stop here: the record stays for the check below")

    monkeypatch.setattr(celery_app, "runtime_for", lambda settings, options: Slow())
    task = app.tasks[TASK_EVALUATE_CANDLES]
    monkeypatch.setattr(task, "retry", lambda *a, **k: RuntimeError("no retry in this test"))
    started = time.time()

    task.apply(args=[payload()], kwargs={"closed_at": CLOSED.isoformat()}, task_id="slow")
    ended = time.time()

    assert seen[-1] > started + 1.0 + span / 2  # renewed during the run
    due = ledger.due_at("slow")
    assert due is not None and due <= ended + 1 + span + 0.2  # the retry's hold, no renewal
    time.sleep(span)
    assert ledger.due_at("slow") == due  # nothing renews it once the task has ended


def test_the_restore_lock_of_a_killed_worker_expires_in_seconds(app):
    """kombu's lock around restoring abandoned tasks lives 5 minutes by default; a worker
    killed while holding it would stop every restore for that long."""
    options = app.conf.broker_transport_options
    assert options["unacked_mutex_expire"] == celery_app.UNACKED_MUTEX_EXPIRE <= 30
    channel = app.connection_for_write().default_channel
    try:
        assert channel.unacked_mutex_expire == celery_app.UNACKED_MUTEX_EXPIRE
    finally:
        channel.connection.client.release()
