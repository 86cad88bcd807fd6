"""Closed candles dispatched as one Celery task per shard; the Celery app's delivery settings."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.config import Settings
from shared.contracts import TASK_EVALUATE_CANDLES, CandleMsg, Timeframe
from shared.tasks import broker_url, dispatch_candles, shard_of
from strategy_workers.celery_app import create_celery_app
from strategy_workers.main import worker_argv
from strategy_workers.options import WorkerOptions

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 1, 1, 3, 45, tzinfo=UTC)
SYMBOLS = [f"SYM{i:03d}" for i in range(40)]


class Recorder:
    """Stands in for a Celery app: records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any], dict[str, Any]]] = []

    def send_task(self, name: str, args: Any = None, **options: Any) -> None:
        self.sent.append((name, args, options))


def candle(symbol: str, tf: Timeframe = Timeframe.M1) -> CandleMsg:
    return CandleMsg(
        symbol=symbol,
        timeframe=tf,
        start=T0,
        end=T0 + timedelta(minutes=1),
        open=1.0,
        high=2.0,
        low=0.5,
        close=1.5,
        volume=10.0,
        trades=1,
    )


def test_one_task_per_nonempty_shard_not_one_per_candle():
    sender = Recorder()
    burst = [candle(s) for s in SYMBOLS] + [candle(s, Timeframe.M5) for s in SYMBOLS]

    sent = dispatch_candles(sender, burst, shards=4)

    assert sent == len(sender.sent) == len({shard_of(s, 4) for s in SYMBOLS})
    assert all(name == TASK_EVALUATE_CANDLES for name, _, _ in sender.sent)
    assert sum(len(args[0]) for _, args, _ in sender.sent) == len(burst)


def test_every_timeframe_of_a_symbol_travels_in_the_same_task():
    sender = Recorder()

    dispatch_candles(sender, [candle("INFY"), candle("INFY", Timeframe.M5)], shards=8)

    [(_, [payload], _)] = sender.sent
    assert [c["timeframe"] for c in payload] == ["1m", "5m"]


def test_payload_round_trips_into_the_same_candles():
    sender = Recorder()
    original = candle("TCS")

    dispatch_candles(sender, [original], shards=2)

    assert CandleMsg.model_validate(sender.sent[0][1][0][0]) == original


def test_tasks_go_to_the_strategy_queue():
    sender = Recorder()

    dispatch_candles(sender, [candle("TCS")], queue="strategies-eu")

    assert sender.sent[0][2]["queue"] == "strategies-eu"


def test_shards_are_the_same_in_another_process_with_another_hash_seed():
    code = f"from shared.tasks import shard_of; print([shard_of(s, 7) for s in {SYMBOLS!r}])"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )

    assert out.stdout.strip() == str([shard_of(s, 7) for s in SYMBOLS])
    assert {shard_of(s, 7) for s in SYMBOLS} == set(range(7))


def test_broker_url_comes_from_the_redis_settings_with_the_password_escaped():
    settings = Settings(
        _env_file=None, redis_host="cache", redis_port=6380, redis_db=2, redis_password="p@ss/w"
    )

    assert broker_url(settings) == "redis://:p%40ss%2Fw@cache:6380/2"


def test_redis_cluster_is_refused_as_a_celery_broker():
    settings = Settings(_env_file=None, redis_cluster_mode=True)

    with pytest.raises(ValueError, match="standalone"):
        broker_url(settings)


def test_app_acknowledges_late_and_redelivers_lost_tasks():
    options = WorkerOptions(_env_file=None, visibility_timeout=7)

    app = create_celery_app(Settings(_env_file=None), options)

    conf = app.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost) == (True, True)
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.broker_transport_options["visibility_timeout"] == 7
    assert TASK_EVALUATE_CANDLES in app.tasks


def test_tasks_carry_when_their_candles_closed():
    sender = Recorder()
    closed_at = datetime(2026, 11, 20, 3, 46, 2, tzinfo=UTC)

    dispatch_candles(sender, [candle("TCS"), candle("INFY")], shards=2, closed_at=closed_at)

    stamps = {
        datetime.fromisoformat(options["kwargs"]["closed_at"]) for _, _, options in sender.sent
    }
    assert stamps == {closed_at}


def test_worker_processes_get_node_names_of_their_own():
    argv = worker_argv(Settings(_env_file=None), WorkerOptions(_env_file=None))

    [name] = [a.removeprefix("--hostname=") for a in argv if a.startswith("--hostname=")]
    assert name == f"strategy-worker-{os.getpid()}@%h"
    code = "from strategy_workers.main import worker_name; print(worker_name())"
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert other.stdout.strip() != name
