"""Real Celery worker processes on a real Redis broker and PostgreSQL: a worker SIGKILLed in the
middle of a batch loses no evaluation and duplicates no intent; a task lost before the broker
noted it as taken is sent again from the evaluation ledger."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import redis
from sqlalchemy import select

from algotrade.migrate import upgrade
from market_data_engine.redispatch import Redispatcher
from shared.bus.codec import decode
from shared.config import Settings
from shared.contracts import ORDER_STREAMS, CandleMsg, OrderIntent, Timeframe
from shared.db import create_engine, create_sessionmaker
from shared.models import BrokerAccount, SignalRecord, StrategySubscription, User
from shared.redis_client import create_redis
from shared.task_ledger import EvaluationLedger
from shared.tasks import dispatch_candles, shard_candles
from strategy_workers.celery_app import create_celery_app
from strategy_workers.evaluation import Evaluator
from strategy_workers.options import WorkerOptions
from strategy_workers.strategies.base import CandleWindow
from strategy_workers.subscriptions import to_spec
from tests.servers import PostgresServer, ProcessServer, RedisServer

from .paths import WindowStore as HistoryWindows

pytestmark = pytest.mark.service

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ["INFY", "TCS", "HDFCBANK", "RELIANCE", "ITC", "SBIN", "WIPRO", "LT"]
BARS, EVALUATED, SHARDS = 60, 24, 4
BAR = timedelta(minutes=5)
T0 = datetime(2024, 1, 1, 3, 45, tzinfo=UTC)
VISIBILITY = 2  # seconds before a dead worker's task is delivered again


def history(symbol: str, phase: float) -> list[CandleMsg]:
    """A wave whose 3- and 8-bar averages cross every few bars."""
    out = []
    for i in range(BARS):
        close = 100 + 6 * np.sin(i * 0.45 + phase) + 0.1 * i
        start = T0 + i * BAR
        out.append(
            CandleMsg(
                symbol=symbol,
                timeframe=Timeframe.M5,
                start=start,
                end=start + BAR,
                open=close - 0.2,
                high=close + 0.6,
                low=close - 0.6,
                close=float(close),
                volume=1000.0,
                trades=9,
            )
        )
    return out


@pytest.fixture
def world(
    postgres_server: PostgresServer, redis_server: RedisServer, new_database
) -> Iterator[dict]:
    """A migrated database with subscriptions, the candle cache filled, an empty broker."""
    pytest.importorskip("shared.candle_cache_redis", reason="the Redis candle cache")
    from shared.candle_cache_redis import RedisCandleCache

    db = new_database("celery_redelivery")
    upgrade(postgres_server.dsn(db))
    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    client.flushdb()
    settings = Settings(
        _env_file=None,
        profile="distributed",
        db_host=postgres_server.host,
        db_port=postgres_server.port,
        db_name=db,
        db_user=postgres_server.user,
        redis_host=redis_server.host,
        redis_port=redis_server.port,
    )
    candles = {s: history(s, phase=i * 0.7) for i, s in enumerate(SYMBOLS)}

    async def arrange() -> list:
        cache = RedisCandleCache(create_redis(host=redis_server.host, port=redis_server.port))
        await cache.push([c for series in candles.values() for c in series])
        engine = create_engine(settings)
        sessions = create_sessionmaker(engine)
        async with sessions() as s, s.begin():
            user = User(email="celery@example.com", password_hash="x", full_name="C")
            s.add(user)
            await s.flush()
            account = BrokerAccount(
                user_id=user.id,
                broker="paper",
                label="p",
                starting_capital=Decimal(10**6),
                currency="INR",
            )
            s.add(account)
            await s.flush()
            for params in ({"fast": 3, "slow": 8}, {"fast": 3, "slow": 8}, {"fast": 4, "slow": 10}):
                s.add(
                    StrategySubscription(
                        user_id=user.id,
                        broker_account_id=account.id,
                        strategy="ma_crossover",
                        params=params,
                        symbols=SYMBOLS,
                        timeframe="5m",
                        sizing_method="fixed_fractional",
                        sizing_params={},
                        capital_allocation=Decimal(10**6),
                    )
                )
        async with sessions() as s:
            rows = (await s.scalars(select(StrategySubscription))).all()
        await engine.dispose()
        return [to_spec(r) for r in rows]

    specs = asyncio.run(arrange())
    yield {"settings": settings, "candles": candles, "specs": specs, "redis": client, "db": db}
    client.close()


def expected(candles: dict[str, list[CandleMsg]], specs: list) -> tuple[set[str], set[str], int]:
    """Signal ids and client order ids of every evaluation, computed in this process, and the
    most intents one task produces."""
    windows = HistoryWindows(*(CandleWindow.from_candles(series) for series in candles.values()))
    evaluator = Evaluator(windows)
    signals, orders, most = set(), set(), 0
    for i in range(BARS - EVALUATED, BARS):
        for shard in shard_candles([series[i] for series in candles.values()], SHARDS).values():
            burst = [CandleMsg.model_validate(c) for c in shard]
            result = evaluator.evaluate(burst, specs)
            signals |= {s.signal_id for s in result.signals}
            orders |= {o.client_order_id for o in result.intents}
            most = max(most, len(result.intents))
    return signals, orders, most


def worker(settings: Settings, redis_server: RedisServer) -> ProcessServer:
    env = {
        "ALGOTRADE_ENVIRONMENT": "development",
        "ALGOTRADE_PROFILE": "distributed",
        "ALGOTRADE_DATABASE_URL": settings.sqlalchemy_url,
        "ALGOTRADE_REDIS_HOST": redis_server.host,
        "ALGOTRADE_REDIS_PORT": str(redis_server.port),
        "ALGOTRADE_REDIS_DB": "0",
        "ALGOTRADE_REDIS_CLUSTER_MODE": "false",
        "ALGOTRADE_STRATEGY_VISIBILITY_TIMEOUT": str(VISIBILITY),
        "ALGOTRADE_STRATEGY_RESTORE_INTERVAL": "1",
    }
    argv = [sys.executable, "-m", "celery", "-A", "strategy_workers.celery_app", "worker"]
    argv += ["--pool=solo", "-c", "1", "-Q", "strategy_workers", "--without-gossip"]
    argv += ["--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
    return ProcessServer(argv, env=env, cwd=ROOT, name="celery-strategy", stop_signal=15)


def stream_order_ids(client: redis.Redis) -> list[str]:
    out = []
    for stream in ORDER_STREAMS:
        for _, fields in client.xrange(stream):
            message = decode(next(iter(fields.values())))
            assert isinstance(message, OrderIntent)
            out.append(message.client_order_id)
    return out


def stored_signal_ids(settings: Settings) -> list[str]:
    async def read() -> list[str]:
        engine = create_engine(settings)
        async with create_sessionmaker(engine)() as s:
            ids = list((await s.scalars(select(SignalRecord.signal_id))).all())
        await engine.dispose()
        return ids

    return asyncio.run(read())


def wait_for(condition, timeout: float, every: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def kill_mid_batch(proc: ProcessServer, condition, timeout: float) -> bool:
    """SIGKILL `proc` at a moment `condition` holds, reading it while the worker is stopped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = proc.pid
        assert pid is not None, proc.log_tail()
        os.killpg(pid, signal.SIGSTOP)
        if condition():
            proc.kill()
            return True
        os.killpg(pid, signal.SIGCONT)
        time.sleep(0.005)
    return False


def test_killed_worker_loses_no_evaluation_and_duplicates_no_intent(world, redis_server):
    settings, client = world["settings"], world["redis"]
    want_signals, want_orders, per_task = expected(world["candles"], world["specs"])
    assert len(want_orders) >= 20  # the data must actually trade
    sender = create_celery_app(settings, WorkerOptions(_env_file=None))
    proc = worker(settings, redis_server)
    proc.start()
    try:
        sent = sum(
            dispatch_candles(sender, [world["candles"][s][i] for s in SYMBOLS], shards=SHARDS)
            for i in range(BARS - EVALUATED, BARS)
        )
        queue_len = lambda: client.llen("strategy_workers")  # noqa: E731
        mid_batch = lambda: 0 < queue_len() <= sent * 2 // 3 and client.hlen("unacked") == 1  # noqa: E731
        # SIGKILL while a task is taken and not yet acknowledged. A solo worker acknowledges
        # one task and takes the next within microseconds, so the state is read with the
        # worker frozen: a check that sees a task in flight is still true when it dies.
        assert kill_mid_batch(proc, mid_batch, timeout=60), proc.log_tail()
        in_flight, left = client.hlen("unacked"), queue_len()
        proc.start()  # a fresh worker: the queue drains, the lost task comes back
        done = wait_for(
            lambda: (
                set(stored_signal_ids(settings)) >= want_signals
                and set(stream_order_ids(client)) >= want_orders
                and queue_len() == 0
                and client.hlen("unacked") == 0
            ),
            timeout=45,
            every=0.25,
        )
    finally:
        proc.cleanup()
        sender.close()

    assert in_flight == 1 and left > 0
    assert done, proc.log_tail()
    signals, orders = stored_signal_ids(settings), stream_order_ids(client)
    assert sorted(signals) == sorted(want_signals)  # each stored once, none missing
    assert set(orders) == want_orders  # every intent delivered, no unexpected one
    # Only the killed task ran twice; the order processor's UNIQUE(user_id, client_order_id)
    # makes its repeated intents no-ops.
    assert len(orders) - len(set(orders)) <= per_task


def test_a_task_arriving_more_than_a_bar_after_its_candles_closed_trades_nothing(
    world, redis_server
):
    settings, client = world["settings"], world["redis"]
    sender = create_celery_app(settings, WorkerOptions(_env_file=None))
    late = [world["candles"][s][BARS - 2] for s in SYMBOLS]
    fresh = [world["candles"][s][BARS - 1] for s in SYMBOLS]
    proc = worker(settings, redis_server)
    proc.start()
    try:
        # Closed 6 minutes ago: older than one 5-minute bar by the time a worker takes it.
        dispatch_candles(sender, late, closed_at=datetime.now(UTC) - timedelta(minutes=6))
        dispatch_candles(sender, fresh)
        drained = wait_for(
            lambda: client.llen("strategy_workers") == 0 and client.hlen("unacked") == 0,
            timeout=45,
            every=0.25,
        )
        log = proc.log_tail(200)
    finally:
        proc.cleanup()
        sender.close()

    assert drained, log
    stored = stored_signal_ids(settings)
    windows = HistoryWindows(*(CandleWindow.from_candles(c) for c in world["candles"].values()))
    evaluator = Evaluator(windows)
    late_ids = {s.signal_id for s in evaluator.evaluate(late, world["specs"]).signals}
    fresh_ids = {s.signal_id for s in evaluator.evaluate(fresh, world["specs"]).signals}
    assert late_ids and fresh_ids  # both bars would trade
    assert not late_ids & set(stored)
    assert fresh_ids <= set(stored)


def ledger_of(redis_server: RedisServer, redispatch_after: float) -> EvaluationLedger:
    client = redis.Redis(host=redis_server.host, port=redis_server.port, decode_responses=True)
    return EvaluationLedger(client, redispatch_after=redispatch_after, max_attempts=3)


def signals_of(world: dict, candles: list[CandleMsg]) -> set[str]:
    windows = HistoryWindows(*(CandleWindow.from_candles(c) for c in world["candles"].values()))
    return {s.signal_id for s in Evaluator(windows).evaluate(candles, world["specs"]).signals}


def test_a_task_lost_before_the_broker_noted_it_taken_is_sent_again_and_evaluated(
    world, redis_server
):
    settings, client = world["settings"], world["redis"]
    sender = create_celery_app(settings, WorkerOptions(_env_file=None))
    ledger = ledger_of(redis_server, redispatch_after=1.0)
    fresh = [world["candles"][s][BARS - 1] for s in SYMBOLS]
    want = signals_of(world, fresh)
    sent = dispatch_candles(sender, fresh, shards=SHARDS, ledger=ledger)
    # What a worker killed between BRPOP and noting the task in "unacked" leaves behind: the
    # messages are gone from the queue and nowhere else in the broker.
    lost = client.delete("strategy_workers")
    proc = worker(settings, redis_server)
    proc.start()

    async def sweep_until_evaluated() -> tuple[bool, int]:
        redispatcher = Redispatcher(sender, ledger, every=0.2)
        redispatcher.start()
        try:
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline:
                stored = set(await asyncio.to_thread(stored_signal_ids, settings))
                if want <= stored and ledger.size() == 0:
                    return True, redispatcher.sent
                await asyncio.sleep(0.25)
            return False, redispatcher.sent
        finally:
            await redispatcher.stop()

    try:
        done, resent = asyncio.run(sweep_until_evaluated())
    finally:
        proc.cleanup()
        sender.close()
        ledger.redis.close()

    assert lost == 1 and sent > 1 and want
    assert done, proc.log_tail(200)
    # Every lost task sent again (more than once if the worker was still starting) and
    # forgotten once evaluated.
    assert resent >= sent
    assert want == set(stored_signal_ids(settings))


def test_the_worker_forgets_a_task_once_evaluated_or_skipped_as_stale(world, redis_server):
    settings, client = world["settings"], world["redis"]
    sender = create_celery_app(settings, WorkerOptions(_env_file=None))
    ledger = ledger_of(redis_server, redispatch_after=600.0)  # never due in this test
    late = [world["candles"][s][BARS - 2] for s in SYMBOLS]
    fresh = [world["candles"][s][BARS - 1] for s in SYMBOLS]
    closed_late = datetime.now(UTC) - timedelta(minutes=6)
    sent = dispatch_candles(sender, late, closed_at=closed_late, ledger=ledger)
    sent += dispatch_candles(sender, fresh, ledger=ledger)
    recorded = ledger.size()
    proc = worker(settings, redis_server)
    proc.start()
    try:
        drained = wait_for(
            lambda: (
                client.llen("strategy_workers") == 0
                and client.hlen("unacked") == 0
                and ledger.size() == 0
            ),
            timeout=45,
            every=0.25,
        )
        log = proc.log_tail(200)
    finally:
        proc.cleanup()
        sender.close()
        ledger.redis.close()

    assert recorded == sent > 2
    assert drained, log
    stored = set(stored_signal_ids(settings))
    assert signals_of(world, fresh) <= stored  # evaluated
    assert not signals_of(world, late) & stored  # skipped as stale
