"""The evaluation ledger on a real Redis: tasks recorded before they are sent, sent again by
the sweeper while unfinished (same task id and ``closed_at``, the delay doubling), forgotten
once finished, given up after the last attempt."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from prometheus_client import REGISTRY

from shared.contracts import (
    EVALUATION_LEDGER,
    EVALUATION_LEDGER_DUE,
    TASK_EVALUATE_CANDLES,
    CandleMsg,
    Timeframe,
)
from shared.task_ledger import EvaluationLedger, LedgerEntry
from shared.tasks import dispatch_candles, redispatch_due
from tests.servers import RedisServer

pytestmark = pytest.mark.service

AFTER = 20.0  # redispatch_after
T0 = datetime(2026, 1, 5, 9, 15, tzinfo=UTC)
CLOSED = T0 + timedelta(minutes=1)


class Clock:
    """Wall-clock seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1_767_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """Stands in for a Celery app: records what would be sent, and what the ledger held then."""

    def __init__(self, ledger: EvaluationLedger | None = None, fail: bool = False) -> None:
        self.ledger = ledger
        self.fail = fail
        self.sent: list[dict[str, Any]] = []
        self.held_when_sent: list[LedgerEntry | None] = []

    def send_task(self, name: str, args: Any = None, **options: Any) -> None:
        if self.fail:
            raise ConnectionError("the broker is away")
        assert name == TASK_EVALUATE_CANDLES
        self.sent.append({"args": args, **options})
        if self.ledger is not None:
            self.held_when_sent.append(self.ledger.get(options["task_id"]))


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis(host=redis_server.host, port=redis_server.port, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(client: redis.Redis, clock: Clock) -> EvaluationLedger:
    return EvaluationLedger(client, redispatch_after=AFTER, max_attempts=3, clock=clock)


def candle(symbol: str) -> CandleMsg:
    return CandleMsg(
        symbol=symbol, timeframe=Timeframe.M1, start=T0, end=CLOSED,
        open=1.0, high=2.0, low=0.5, close=1.5, volume=10.0, trades=1,
    )  # fmt: skip


BURST = [candle(s) for s in ("INFY", "TCS", "SBIN", "ITC", "LT", "WIPRO")]


def _value(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"task": TASK_EVALUATE_CANDLES}) or 0.0


def test_every_task_is_recorded_before_it_is_sent_under_its_own_task_id(ledger):
    sender = Recorder(ledger)

    sent = dispatch_candles(sender, BURST, shards=3, closed_at=CLOSED, ledger=ledger)

    ids = [task["task_id"] for task in sender.sent]
    assert sent == len(ids) == len(set(ids)) == ledger.size() > 1
    for task, held in zip(sender.sent, sender.held_when_sent, strict=True):
        assert held == LedgerEntry(
            task_id=task["task_id"],
            candles=task["args"][0],
            closed_at=CLOSED.isoformat(),
            queue=task["queue"],
        )


def test_a_task_recorded_and_never_sent_is_sent_again_when_due_with_its_id_and_closed_at(
    ledger, clock
):
    dispatch_candles(Recorder(fail=True), BURST, shards=3, closed_at=CLOSED, ledger=ledger)
    recorded = ledger.size()
    sweeper = Recorder()

    early = redispatch_due(sweeper, ledger)
    clock.advance(AFTER)
    due = redispatch_due(sweeper, ledger)

    assert recorded > 1 and early == 0
    assert due == recorded == len({task["task_id"] for task in sweeper.sent})
    assert {task["kwargs"]["closed_at"] for task in sweeper.sent} == {CLOSED.isoformat()}
    sent_candles = sorted(c["symbol"] for task in sweeper.sent for c in task["args"][0])
    assert sent_candles == sorted(c.symbol for c in BURST)
    assert ledger.size() == recorded  # still held until a worker finishes them


def test_the_delay_before_each_new_send_doubles(ledger, clock):
    ledger.record([LedgerEntry("t1", [{"symbol": "INFY"}], CLOSED.isoformat(), "q")])
    sweeper = Recorder()
    sends_at = []

    for _ in range(int(AFTER * 16)):
        clock.advance(1)
        if redispatch_due(sweeper, ledger):
            sends_at.append(round(clock.now - 1_767_000_000.0))

    assert sends_at == [AFTER, AFTER * 3, AFTER * 7]  # after 20 s, then 40 s, then 80 s
    assert [task["task_id"] for task in sweeper.sent] == ["t1"] * 3


def test_a_finished_task_is_never_sent_again(ledger, clock):
    sender = Recorder()
    dispatch_candles(sender, BURST, shards=3, closed_at=CLOSED, ledger=ledger)

    for task in sender.sent:
        ledger.finished(task["task_id"])
    clock.advance(AFTER * 100)

    assert redispatch_due(Recorder(), ledger) == 0
    assert ledger.size() == 0
    assert ledger.redis.exists(EVALUATION_LEDGER) == 0


def test_a_started_task_is_not_sent_again_before_its_hold_runs_out(ledger, clock):
    ledger.record([LedgerEntry("t1", [], CLOSED.isoformat(), "q")])
    sweeper = Recorder()

    ledger.started("t1", hold=120)
    ledger.started("t1", hold=5)  # a shorter hold never brings it forward
    clock.advance(119)
    before = redispatch_due(sweeper, ledger)
    clock.advance(1)
    after = redispatch_due(sweeper, ledger)

    assert (before, after) == (0, 1)


def test_starting_a_task_the_ledger_does_not_hold_records_nothing(ledger, clock):
    ledger.started("sent-without-a-ledger", hold=120)
    clock.advance(1000)

    assert ledger.size() == 0 and redispatch_due(Recorder(), ledger) == 0
    assert ledger.redis.zcard(EVALUATION_LEDGER_DUE) == 0


def test_after_the_last_attempt_the_task_is_given_up_counted_logged_and_forgotten(
    ledger, clock, caplog
):
    ledger.record([LedgerEntry("lost", [{"symbol": "INFY"}], CLOSED.isoformat(), "q")])
    ledger.record([LedgerEntry("young", [], CLOSED.isoformat(), "q")])
    ledger.started("young", hold=AFTER * 1000)
    sweeper = Recorder()
    given_up = _value("algotrade_tasks_given_up_total")
    resent = _value("algotrade_tasks_resent_total")

    with caplog.at_level(logging.ERROR, logger="shared.tasks"):
        for _ in range(int(AFTER * 16)):
            clock.advance(1)
            redispatch_due(sweeper, ledger)

    assert len(sweeper.sent) == 3  # max_attempts sends again, then no more
    assert _value("algotrade_tasks_given_up_total") - given_up == 1
    assert _value("algotrade_tasks_resent_total") - resent == 3
    assert ledger.get("lost") is None and ledger.get("young") is not None
    assert _value("algotrade_task_ledger_size") == ledger.size() == 1
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "lost" in error.getMessage() and "INFY" in error.getMessage()


def test_a_batch_larger_than_one_round_trip_is_sent_in_one_sweep(client, clock):
    ledger = EvaluationLedger(client, redispatch_after=AFTER, clock=clock, batch=4)
    ledger.record([LedgerEntry(f"t{i}", [], CLOSED.isoformat(), "q") for i in range(10)])
    clock.advance(AFTER)

    assert redispatch_due(Recorder(), ledger) == 10
