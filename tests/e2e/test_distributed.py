"""The distributed profile end to end, every service its own process, under five faults.

PostgreSQL, PgBouncer (transaction pooling), Redis (append-only file) and InfluxDB run
as throwaway servers; the API, the websocket service, the market data engine, two order
processors, two strategy workers and the analytics worker run as ``algotrade serve``
processes with the production settings of ``docker-compose.yml``. Two traders register,
open paper accounts and subscribe a moving-average crossover (2 over 3 bars) on SOLUSDT
and ETHUSDT, 1m candles. Thirty minutes of history are imported into InfluxDB first; then
the market data engine replays a recording as a live feed (``FEED_REPLAY_REBASE``, speed
1): the price alternates between two levels each minute, so every closed candle crosses
the averages and trades. Each trader also places a market order on BNBUSDT every 0.4 s
through REST and follows its private channels on a WebSocket.

While that runs, one fault at a time:

1. kill -9 of a strategy worker as the candles of a minute close (a supervisor starts it
   again); its evaluation is redelivered or taken by the other worker;
2. kill -9 of an order processor: the other takes over its account partitions and the
   intents it held; then a supervisor starts it again and the partitions are shared;
3. a Redis restart (its append-only file keeps the streams and the Celery queue);
4. a PgBouncer pause: REST answers 503 within ``API_DB_TIMEOUT_SECONDS`` and keeps the
   HTTP connection;
5. an InfluxDB stop: ticks wait in the engine's buffer and are written when it returns.

After each, every service is ready again without being restarted by hand, and a minute
after the last, candles still close, strategies still trade and orders still fill. Then
the counts, from PostgreSQL: every accepted order and every strategy intent is exactly
one order in a terminal state, decided once, filled at most once; positions are the sum
of their fills; every closed live candle is in InfluxDB and every signal it should have
given was stored, none other; and each trader's WebSocket carried its own events only.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.cluster import INFLUX_DATABASE, Cluster, Service
from tests.e2e.traders import EventFeed, KeepAliveConnection, OrderFlow, R

pytestmark = [pytest.mark.service, pytest.mark.timeout(900)]

STRATEGY_SYMBOLS = ("SOLUSDT", "ETHUSDT")
MANUAL_SYMBOL = "BNBUSDT"
LEVELS = {"SOLUSDT": ("150.00", "156.00"), "ETHUSDT": ("3200.00", "3328.00")}
MANUAL_LEVELS = ("900.00", "901.00")
RECORDING_MINUTES = 20
TICKS_PER_SECOND = 2
HISTORY_MINUTES = 30
GRACE_S = 2.0
DB_TIMEOUT_S = 3.0  # ALGOTRADE_API_DB_TIMEOUT_SECONDS: the bound on a 503
BOUND_SLACK_S = 2.0  # a loaded machine answers a little after the bound
VISIBILITY_S = 10  # a dead worker's task is delivered again after this
TERMINAL = {"FILLED", "CANCELLED", "EXPIRED", "REJECTED", "DENIED"}
PARAMS = [
    {"fast": 2, "slow": 3, "atr_period": 2},
    {"fast": 2, "slow": 3, "atr_period": 3, "ma_type": "sma"},
]
QUANTITY = {"SOLUSDT": "1", "ETHUSDT": "0.1"}


# -- market data ---------------------------------------------------------------------------


def _write_recording(path: Path) -> None:
    """Ticks of three symbols, TICKS_PER_SECOND each; each minute of the recording holds one
    of two price levels, in turn, so consecutive closed 1m candles alternate."""
    start = datetime(2026, 1, 5, tzinfo=UTC)
    step = timedelta(seconds=1 / TICKS_PER_SECOND)
    rows = ["symbol,ts,price,qty"]
    for i in range(RECORDING_MINUTES * 60 * TICKS_PER_SECOND):
        ts = start + i * step
        minute = i // (60 * TICKS_PER_SECOND)
        stamp = ts.isoformat().replace("+00:00", "Z")
        for symbol, levels in LEVELS.items():
            rows.append(f"{symbol},{stamp},{levels[minute % 2]},5")
        rows.append(f"{MANUAL_SYMBOL},{stamp},{MANUAL_LEVELS[minute % 2]},5")
    path.write_text("\n".join(rows) + "\n")


def _write_history(path: Path, symbol: str, end: datetime) -> None:
    """HISTORY_MINUTES 1m candles before ``end``, closes alternating like the recording."""
    low, high = (float(p) for p in LEVELS[symbol])
    rows = ["timestamp,open,high,low,close,volume"]
    previous = low
    for k in range(HISTORY_MINUTES, 0, -1):
        start = end - timedelta(minutes=k)
        close = high if k % 2 else low
        rows.append(
            f"{start.isoformat()},{previous},{max(previous, close) + 0.5},"
            f"{min(previous, close) - 0.5},{close},10"
        )
        previous = close
    path.write_text("\n".join(rows) + "\n")


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


async def _import_history(cluster: Cluster, workdir: Path) -> datetime:
    """Import the history through the command line, as an operator would; its end."""
    end = _minute(datetime.now(UTC))
    for symbol in STRATEGY_SYMBOLS:
        path = workdir / f"history-{symbol}.csv"
        _write_history(path, symbol, end)
        out = await asyncio.to_thread(cluster.cli, "data", "import", str(path), "--symbol", symbol)
        assert f"imported {HISTORY_MINUTES} 1m candles of {symbol}" in out, out
    return end


def _tickstore(cluster: Cluster) -> Any:
    from shared.tickstore import create_tickstore

    return create_tickstore("influx", url=cluster.influx.url, database=INFLUX_DATABASE)


async def _candles(cluster: Cluster, since: datetime) -> dict[str, list[Any]]:
    """The 1m candles of the strategy symbols in InfluxDB from ``since`` - history on."""
    from shared.contracts import Timeframe

    store = _tickstore(cluster)
    try:
        start = since - timedelta(minutes=HISTORY_MINUTES + 1)
        return {
            s: await store.query_candles(s, Timeframe.M1, start=start)
            for s in (*STRATEGY_SYMBOLS, MANUAL_SYMBOL)
        }
    finally:
        await store.close()


async def _tick_gaps(cluster: Cluster, symbol: str, since: datetime, until: datetime) -> list[str]:
    """Where the stored ticks of ``symbol`` are not the recording's steady beat (a tick lost,
    or written twice); the recording has a tick every 1/TICKS_PER_SECOND s."""
    store = _tickstore(cluster)
    try:
        ticks = await store.query_ticks(symbol, start=since, end=until)
    finally:
        await store.close()
    step = 10**9 // TICKS_PER_SECOND
    if len(ticks.ts_ns) < 2:
        return [f"{len(ticks.ts_ns)} ticks of {symbol} stored"]
    gaps = []
    for before, after in zip(ticks.ts_ns[:-1], ticks.ts_ns[1:], strict=True):
        if after - before != step:
            moment = datetime.fromtimestamp(int(before) / 1e9, UTC)
            gaps.append(
                f"{symbol} {moment:%H:%M:%S.%f}: next tick {(after - before) / 1e9} s later"
            )
    return gaps


def _expected_signals(
    specs: list[Any], candles: dict[str, list[Any]], live_from: datetime, until: datetime
) -> set[str]:
    """The signal ids every subscription must have given on the live candles closed by
    ``until``, computed here from the candles in InfluxDB with the strategies' own code."""
    from strategy_workers.evaluation import Evaluator
    from strategy_workers.strategies.base import CandleWindow
    from tests.strategy_workers.paths import WindowStore

    windows = WindowStore(*(CandleWindow.from_candles(candles[s]) for s in STRATEGY_SYMBOLS))
    evaluator = Evaluator(windows)
    out: set[str] = set()
    for symbol in STRATEGY_SYMBOLS:
        for candle in candles[symbol]:
            if candle.end > live_from and candle.end <= until:
                out |= {s.signal_id for s in evaluator.evaluate([candle], specs).signals}
    return out


# -- PostgreSQL, read straight (never through the PgBouncer that a fault pauses) ------------


class Db:
    def __init__(self, cluster: Cluster) -> None:
        self.conninfo = cluster.postgres.conninfo(cluster.db_name)

    async def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
            cursor = await conn.execute(sql.encode(), args or None)
            return list(await cursor.fetchall())

    async def statuses(self) -> Counter[str]:
        return Counter(
            {s: n for s, n in await self.rows("SELECT status, count(*) FROM orders GROUP BY 1")}
        )

    async def partition_owners(self) -> list[str | None]:
        rows = await self.rows(
            "SELECT CASE WHEN expires_at > now() THEN owner END FROM order_partitions"
        )
        return [r[0] for r in rows]

    async def signals(self) -> dict[str, tuple[Any, ...]]:
        rows = await self.rows(
            "SELECT signal_id, user_id, symbol, candle_end, action, client_order_id FROM signals"
        )
        return {r[0]: r for r in rows}


async def _wait(what: str, check: Any, timeout: float, logs: Any, every: float = 0.25) -> float:
    """Wait until ``await check()`` is true; how long it took."""
    started = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs()}")
        await asyncio.sleep(every)


async def _metric(service: Service, name: str) -> float | None:
    async with httpx.AsyncClient(timeout=5) as client:
        try:
            text = (await client.get(f"{service.url}/metrics")).text
        except httpx.HTTPError:
            return None
    found = re.search(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


# -- the test ------------------------------------------------------------------------------


async def test_distributed_platform_end_to_end_under_faults(postgres_server):
    from redis.exceptions import ResponseError

    from shared.contracts import GROUP_ORDER_PROCESSOR, ORDER_STREAMS
    from shared.redis_client import create_redis
    from strategy_workers.subscriptions import to_spec
    from tests.api_gateway.factories import make_trader

    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="algotrade-e2e-"))  # kept when the test fails
    cluster = Cluster.create(postgres_server, f"e2e_{os.getpid()}", workdir)
    db = Db(cluster)
    flows: list[OrderFlow] = []
    feeds: list[EventFeed] = []
    flow_tasks: list[asyncio.Task[None]] = []
    stop_flows = asyncio.Event()
    report: dict[str, Any] = {}
    waiting: dict[str, Any] = {}

    def note(key: str, value: Any) -> None:
        report[key] = value
        print(f"  {key}: {value}", flush=True)

    try:
        # -- deploy: migrate, history, services --------------------------------------------
        await asyncio.to_thread(cluster.cli, "migrate")
        history_end = await _import_history(cluster, workdir)
        recording = workdir / "recording.csv"
        _write_recording(recording)
        api = cluster.add(
            "api",
            "api",
            port_setting="ALGOTRADE_API_PORT",
            env={
                "ALGOTRADE_API_DB_TIMEOUT_SECONDS": str(DB_TIMEOUT_S),
            },
        )
        ws = cluster.add("websocket", "websocket", port_setting="ALGOTRADE_WS_PORT")
        worker_env = {
            "ALGOTRADE_STRATEGY_CONCURRENCY": "1",
            "ALGOTRADE_STRATEGY_VISIBILITY_TIMEOUT": str(VISIBILITY_S),
            "ALGOTRADE_STRATEGY_RESTORE_INTERVAL": "1",
        }
        for n in (1, 2):
            cluster.add(
                f"order-processor-{n}",
                "order-processor",
                port_setting="ALGOTRADE_ORDER_PROCESSOR_PROBE_PORT",
                ready_line="order processor started",
            )
            metrics_dir = workdir / f"metrics-{n}"
            metrics_dir.mkdir()
            cluster.add(
                f"strategy-worker-{n}",
                "strategy-worker",
                port_setting="ALGOTRADE_STRATEGY_WORKER_PROBE_PORT",
                env={**worker_env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
                ready_line=" ready.",
            )
        cluster.add(
            "analytics-worker",
            "analytics-worker",
            port_setting="ALGOTRADE_ANALYTICS_WORKER_PROBE_PORT",
        )
        md = cluster.add(
            "market-data",
            "market-data",
            port_setting="ALGOTRADE_MARKET_DATA_PROBE_PORT",
            env={
                "ALGOTRADE_FEED": "replay",
                "ALGOTRADE_FEED_REPLAY_PATHS": str(recording),
                "ALGOTRADE_FEED_REPLAY_SPEED": "1.0",
                "ALGOTRADE_FEED_REPLAY_REBASE": "true",
                "ALGOTRADE_FEED_SYMBOLS": ",".join((*STRATEGY_SYMBOLS, MANUAL_SYMBOL)),
                "ALGOTRADE_CANDLE_GRACE_SECONDS": str(GRACE_S),
            },
        )
        everything_but_market_data = [n for n in cluster.services if n != "market-data"]
        await asyncio.to_thread(cluster.start, everything_but_market_data)
        print("\nend to end, distributed profile:")
        note("services started", f"{time.monotonic() - began:.0f} s")

        async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
            # -- two traders: accounts, subscriptions, WebSockets ---------------------------
            traders = [await make_trader(http) for _ in range(2)]
            accounts: dict[int, int] = {}
            for trader, params in zip(traders, PARAMS, strict=True):
                r = await http.post(
                    f"{R}/broker-accounts",
                    headers=trader.headers,
                    json={"label": "paper", "starting_capital": "1000000", "currency": "USDT"},
                )
                assert r.status_code == 201, r.text
                accounts[trader.id] = int(r.json()["id"])
                for symbol in STRATEGY_SYMBOLS:
                    r = await http.post(
                        f"{R}/subscriptions",
                        headers=trader.headers,
                        json={
                            "name": f"cross {symbol}",
                            "strategy": "ma_crossover",
                            "params": params,
                            "symbols": [symbol],
                            "timeframe": "1m",
                            "broker_account_id": accounts[trader.id],
                            "sizing_method": "fixed_quantity",
                            "sizing_params": {"quantity": QUANTITY[symbol]},
                            "capital_allocation": "100000",
                        },
                    )
                    assert r.status_code == 201, r.text
            subscriptions = await db.rows("SELECT id FROM strategy_subscriptions")
            assert len(subscriptions) == 4
            feeds = [EventFeed(f"ws://127.0.0.1:{ws.port}/ws", t) for t in traders]
            for feed in feeds:
                feed.start()
            for feed in feeds:
                await asyncio.wait_for(feed.connected.wait(), 30)

            # -- the market opens: the replay starts -----------------------------------------
            await asyncio.to_thread(cluster.start, ["market-data"])
            live_from = datetime.now(UTC)
            assert _minute(live_from) >= history_end
            flows = [OrderFlow(http, t, accounts[t.id], MANUAL_SYMBOL, "0.01") for t in traders]
            flow_tasks = [asyncio.create_task(f.run(stop_flows)) for f in flows]
            redis_client = create_redis(host=cluster.redis.host, port=cluster.redis.port)

            async def signals_stored(until: datetime) -> bool:
                candles = await _candles(cluster, live_from)
                specs = [to_spec(row) for row in await _subscription_rows(db)]
                want = _expected_signals(specs, candles, live_from, until)
                stored = await db.signals()
                waiting["signals awaited"] = sorted(want - set(stored))
                waiting["signals stored"] = sorted(stored.values())
                return bool(want) and want <= set(stored)

            def logs() -> str:
                return f"{waiting}\n{cluster.logs()}\nlogs in {workdir}"

            # -- fault 1: kill -9 of a strategy worker as a minute's candles close ----------
            close_1 = _minute(datetime.now(UTC)) + timedelta(minutes=1)
            await _sleep_until(close_1 + timedelta(seconds=GRACE_S - 0.5))
            victim = cluster.services["strategy-worker-1"]
            killed_with = await _strike_moment(redis_client)
            victim.process.kill()
            worker_killed_at = time.monotonic()
            await asyncio.to_thread(victim.process.start)  # the supervisor
            took = await _wait(
                "the signals of the candles closed at the worker kill",
                lambda: signals_stored(close_1),
                VISIBILITY_S + 60,
                logs,
                every=1,
            )
            note(
                "worker kill",
                f"{killed_with}; the minute's candles evaluated "
                f"{time.monotonic() - worker_killed_at:.1f} s after the kill "
                f"({took:.1f} s after the supervisor's restart)",
            )
            await _wait(
                "a strategy order of each trader filled",
                lambda: _strategy_fills(db, len(traders)),
                60,
                logs,
            )

            # -- fault 2: kill -9 of an order processor --------------------------------------
            killed = cluster.services["order-processor-1"]
            survivor_pid = cluster.services["order-processor-2"].process.pid
            accepted_before = {k for f in flows for k in f.accepted}
            killed.process.kill()
            killed_at = time.monotonic()

            async def survivor_owns_all() -> bool:
                owners = await db.partition_owners()
                return None not in owners and all(f"-{survivor_pid}-" in o for o in owners)

            takeover = await _wait(
                "the survivor owning every partition", survivor_owns_all, 60, logs
            )

            async def decided(keys: set[str]) -> bool:
                rows = await db.rows(
                    "SELECT count(*) FROM orders WHERE client_order_id = ANY(%s) "
                    "AND status = ANY(%s)",
                    list(keys),
                    sorted(TERMINAL),
                )
                return rows[0][0] == len(keys)

            accepted_at_kill = {k for f in flows for k in f.accepted}
            drained = await _wait(
                "the orders accepted before the kill decided",
                lambda: decided(accepted_at_kill),
                90,
                logs,
            )
            decided_after = time.monotonic() - killed_at
            await asyncio.to_thread(killed.process.start)  # the supervisor

            async def shared_again() -> bool:
                owners = await db.partition_owners()
                return None not in owners and len(set(owners)) == 2

            await _wait("the partitions shared by both processors again", shared_again, 60, logs)
            note(
                "order processor kill",
                f"partitions taken over in {takeover:.1f} s, the {len(accepted_at_kill)} orders "
                f"accepted by then decided {decided_after:.1f} s after the kill "
                f"({drained:.1f} s after the takeover)",
            )
            assert accepted_before <= accepted_at_kill

            async def all_ready() -> bool:
                return not await asyncio.to_thread(cluster.not_ready)

            async def new_orders_decided(after: float, count: int = 3) -> bool:
                keys = {k for f in flows for k, at in f.accepted.items() if at > after}
                return len(keys) >= count and await decided(keys)

            # -- fault 3: Redis restart ------------------------------------------------------
            await asyncio.to_thread(cluster.redis.stop)
            down_at = time.monotonic()
            await _wait(
                "the API to report Redis down",
                lambda: _ready_status(api, 503),
                30,
                logs,
            )
            await asyncio.to_thread(cluster.redis.start)
            back = await _wait("every service ready after the Redis restart", all_ready, 90, logs)
            await _wait(
                "new orders decided after the Redis restart",
                lambda: new_orders_decided(down_at),
                90,
                logs,
            )
            note("redis restart", f"every service ready {back:.1f} s after Redis returned")

            # -- fault 4: PgBouncer pause ----------------------------------------------------
            conn = KeepAliveConnection("127.0.0.1", api.port)
            await conn.open()
            path = f"{R}/orders?limit=1"
            status, _, _ = await conn.get(path, traders[0].headers)
            assert status == 200
            await asyncio.to_thread(cluster.pgbouncer.pause, cluster.db_name)
            paused: list[tuple[int, float, str]] = []
            try:
                for _ in range(3):
                    t0 = time.monotonic()
                    status, fields, _ = await conn.get(path, traders[0].headers)
                    paused.append((status, time.monotonic() - t0, fields.get("connection", "")))
            finally:
                await asyncio.to_thread(cluster.pgbouncer.resume, cluster.db_name)
            resumed_at = time.monotonic()
            status_after, _, _ = await conn.get(path, traders[0].headers)  # the same connection
            await conn.close()
            back = await _wait("every service ready after the PgBouncer pause", all_ready, 60, logs)
            await _wait(
                "new orders decided after the PgBouncer pause",
                lambda: new_orders_decided(resumed_at),
                60,
                logs,
            )
            slowest = max(t for _, t, _ in paused)
            note(
                "pgbouncer pause",
                f"{[s for s, _, _ in paused]} in at most {slowest:.2f} s (bound {DB_TIMEOUT_S} s), "
                f"then {status_after} on the same connection; every service ready {back:.1f} s "
                "after the resume",
            )
            assert [s for s, _, _ in paused] == [503] * 3, paused
            assert slowest <= DB_TIMEOUT_S + BOUND_SLACK_S, paused
            assert all(c.lower() != "close" for _, _, c in paused), paused
            assert status_after == 200

            # -- fault 5: InfluxDB stop ------------------------------------------------------
            await asyncio.to_thread(cluster.influx.stop)
            influx_down = datetime.now(UTC)

            async def buffering() -> bool:
                buffered = await _metric(md, "algotrade_tickstore_buffered_ticks")
                # Two seconds of ticks of the three symbols wait for InfluxDB.
                enough = 2 * TICKS_PER_SECOND * 3
                return buffered is not None and buffered >= enough and await _ready_status(md, 503)

            await _wait("market data buffering ticks with InfluxDB down", buffering, 30, logs)
            await asyncio.to_thread(cluster.influx.start)
            influx_up = datetime.now(UTC)

            async def drained_buffer() -> bool:
                return await _metric(md, "algotrade_tickstore_buffered_ticks") == 0

            await _wait("the tick buffer drained into InfluxDB", drained_buffer, 60, logs)
            back = await _wait("every service ready after the InfluxDB stop", all_ready, 60, logs)
            note(
                "influxdb stop",
                f"down {(influx_up - influx_down).total_seconds():.1f} s, the tick buffer "
                f"drained and every service ready {back:.1f} s after InfluxDB returned",
            )

            # -- a minute after the last fault: candles, signals, orders, fills -------------
            final_close = _minute(datetime.now(UTC)) + timedelta(minutes=1)
            await _sleep_until(final_close + timedelta(seconds=GRACE_S))

            async def candles_stored(until: datetime) -> bool:
                # Closed at ``until`` + grace, written by the tick store's next flush.
                last = until - timedelta(minutes=1)
                candles = await _candles(cluster, live_from)
                return all(any(c.start == last for c in got) for got in candles.values())

            await _wait(
                "the candles closed at the final close in InfluxDB",
                lambda: candles_stored(final_close),
                30,
                logs,
            )
            await _wait(
                "the signals of the first candles closed after the faults",
                lambda: signals_stored(final_close),
                60,
                logs,
                every=1,
            )
            stop_flows.set()
            await asyncio.wait_for(asyncio.gather(*flow_tasks), 120)

            async def everything_decided() -> bool:
                # The intents of the last signals may still be on their way to an order.
                placed = await db.rows(
                    "SELECT count(*) FROM signals s LEFT JOIN orders o ON o.user_id = s.user_id"
                    " AND o.client_order_id = s.client_order_id WHERE s.client_order_id IS NOT"
                    " NULL AND s.candle_end <= %s AND o.id IS NULL",
                    final_close,
                )
                if placed[0][0]:
                    return False
                statuses = await db.statuses()
                pending = 0
                for stream in ORDER_STREAMS:
                    with contextlib.suppress(ResponseError):  # a stream no intent went to
                        info = await redis_client.xpending(stream, GROUP_ORDER_PROCESSOR)
                        pending += int(info["pending"])
                return set(statuses) <= TERMINAL and pending == 0

            await _wait("every order in a terminal state", everything_decided, 120, logs)
            await redis_client.aclose()
            not_ready = await asyncio.to_thread(cluster.not_ready)
            tick_gaps = []
            for symbol in (*STRATEGY_SYMBOLS, MANUAL_SYMBOL):
                tick_gaps += await _tick_gaps(cluster, symbol, live_from, final_close)

            # -- counting ----------------------------------------------------------------------
            candles = await _candles(cluster, live_from)
            specs = [to_spec(row) for row in await _subscription_rows(db)]
            want_signals = _expected_signals(specs, candles, live_from, final_close)
            rest_signals = {}
            for trader in traders:
                r = await http.get(f"{R}/signals?limit=200", headers=trader.headers)
                assert r.status_code == 200, r.text
                rest_signals[trader.id] = {s["signal_id"] for s in r.json()["items"]}
            orders = await db.rows(
                "SELECT o.id, o.user_id, o.client_order_id, o.status, o.quantity, "
                "o.filled_quantity, o.origin, o.broker_account_id, o.symbol, "
                "(SELECT count(*) FROM fills f WHERE f.order_id = o.id), "
                "(SELECT coalesce(sum(f.quantity), 0) FROM fills f WHERE f.order_id = o.id), "
                "(SELECT count(*) FROM risk_verdicts v WHERE v.order_id = o.id) "
                "FROM orders o"
            )
            # Read after the orders: the replay goes on, and a candle closing meanwhile gives
            # orders that are still working; their signals are then among these.
            signals = await db.signals()
            live_signals = {sid: row for sid, row in signals.items() if row[3] <= final_close}
            positions = await db.rows(
                "SELECT p.broker_account_id, p.symbol, p.quantity, coalesce(("
                " SELECT sum(CASE WHEN f.side = 'BUY' THEN f.quantity ELSE -f.quantity END)"
                " FROM fills f WHERE f.broker_account_id = p.broker_account_id"
                " AND f.symbol = p.symbol), 0) FROM positions p"
            )
            rest_orders = {}
            for trader in traders:
                r = await http.get(f"{R}/orders?limit=1", headers=trader.headers)
                assert r.status_code == 200, r.text
                rest_orders[trader.id] = r.json()["total"]
    finally:
        stop_flows.set()
        for task in flow_tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        for feed in feeds:
            await feed.close()
        failure_logs = f"{cluster.logs(40)}\nlogs in {workdir}"
        cluster.close()

    # -- the verdict -------------------------------------------------------------------------
    by_key = Counter((row[1], row[2]) for row in orders)
    accepted = {(t.id, k) for t, f in zip(traders, flows, strict=True) for k in f.accepted}
    intents = {(row[1], row[5]) for row in live_signals.values() if row[5]}
    later = {(row[1], row[5]) for row in signals.values() if row[5] and row[3] > final_close}
    lost = len((accepted | intents) - set(by_key))
    doubled_orders = sum(n - 1 for n in by_key.values())
    not_terminal = [
        row for row in orders if row[3] not in TERMINAL and (row[1], row[2]) not in later
    ]
    decided_twice = [row for row in orders if row[11] != 1]
    doubled_fills = [
        row
        for row in orders
        if row[9] > (1 if row[3] == "FILLED" else 0)
        or row[10] != row[5]
        or (row[3] == "FILLED" and row[10] != row[4])
    ]
    wrong_positions = [row for row in positions if row[2] != row[3]]
    filled = Counter(row[6] for row in orders if row[3] == "FILLED")
    states = Counter(row[3] for row in orders)
    missing_signals = want_signals - set(live_signals)
    extra_signals = set(live_signals) - want_signals
    owner_of_order = {row[0]: row[1] for row in orders}
    terminal_seen, foreign = 0, 0
    for trader, feed in zip(traders, feeds, strict=True):
        for order_id, event in feed.order_states().items():
            if owner_of_order.get(order_id) != trader.id or event.get("user_id") != trader.id:
                foreign += 1
            elif event["status"] in TERMINAL:
                terminal_seen += 1
        for channel in ("fills", "positions", "signals", "account"):
            foreign += sum(1 for e in feed.events(channel) if e.get("user_id") != trader.id)
    gaps = _candle_gaps(candles, live_from, final_close)
    answers = sum((f.answers for f in flows), Counter())
    note("orders", f"{len(orders)} ({dict(states)}), filled by origin {dict(filled)}")
    note("manual orders accepted", f"{len(accepted)}; answers {dict(answers)}")
    note("strategies", f"{len(live_signals)} signals on live candles, {len(intents)} intents")
    note("lost", lost)
    note(
        "doubled",
        f"{doubled_orders} orders, {len(doubled_fills)} with extra fills, "
        f"{len(decided_twice)} decided other than once",
    )
    note(
        "market data",
        f"{sum(len(c) for c in candles.values())} 1m candles, gaps {len(gaps)}; "
        f"ticks off the beat {len(tick_gaps)}",
    )
    note(
        "websockets",
        f"{terminal_seen} terminal order states seen by their owners, {foreign} events of "
        f"another user, reconnects {[f.reconnects for f in feeds]}",
    )
    note("wall time", f"{time.monotonic() - began:.0f} s")

    assert not [f.refused for f in flows if f.refused], [f.refused for f in flows]
    assert lost == 0, (accepted | intents) - set(by_key)
    assert doubled_orders == 0 and not doubled_fills and not decided_twice, (
        doubled_fills,
        decided_twice,
    )
    assert not not_terminal, not_terminal
    assert not wrong_positions, wrong_positions
    assert filled["subscription"] > 0 and filled["manual"] > 0, filled
    assert not missing_signals and not extra_signals, (missing_signals, extra_signals)
    for trader in traders:
        own = {sid for sid, row in signals.items() if row[1] == trader.id}
        assert rest_signals[trader.id] == own
        assert rest_orders[trader.id] == sum(1 for row in orders if row[1] == trader.id)
    assert not gaps, gaps
    assert foreign == 0
    assert terminal_seen > 0
    assert not tick_gaps, tick_gaps
    assert not not_ready, (not_ready, failure_logs)
    shutil.rmtree(workdir, ignore_errors=True)  # kept for a look when something failed


async def _strike_moment(redis_client: Any) -> str:
    """Wait for the moment to kill a strategy worker: both workers holding a task of the
    minute (each takes one at a time), so the victim dies with a task taken and not
    acknowledged; or, when the minute's tasks never overlap, both idle again.

    Never while a worker may be between taking a task from the broker's list (BRPOP) and
    recording it as unacknowledged: a task killed in that window is lost (docs/operations.md,
    "The fault drill")."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if int(await redis_client.hlen("unacked")) >= 2:
            return "a task taken and unacknowledged"
        await asyncio.sleep(0.005)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        queued = int(await redis_client.llen("strategy_workers"))
        if queued == 0 and int(await redis_client.hlen("unacked")) == 0:
            return "idle between candles"
        await asyncio.sleep(0.05)
    raise AssertionError("the strategy workers never went idle")


async def _subscription_rows(db: Db) -> list[Any]:
    from shared.models import StrategySubscription

    rows = await db.rows(
        "SELECT id, user_id, broker_account_id, strategy, params, symbols, timeframe, "
        "sizing_method, sizing_params, capital_allocation, mode FROM strategy_subscriptions"
    )
    out = []
    for r in rows:
        out.append(
            StrategySubscription(
                id=r[0],
                user_id=r[1],
                broker_account_id=r[2],
                strategy=r[3],
                params=r[4],
                symbols=r[5],
                timeframe=r[6],
                sizing_method=r[7],
                sizing_params=r[8],
                capital_allocation=Decimal(r[9]),
                mode=r[10],
            )
        )
    return out


async def _strategy_fills(db: Db, traders: int) -> bool:
    rows = await db.rows(
        "SELECT count(DISTINCT user_id) FROM orders "
        "WHERE origin = 'subscription' AND status = 'FILLED'"
    )
    return rows[0][0] == traders


async def _ready_status(service: Service, status: int) -> bool:
    async with httpx.AsyncClient(timeout=10) as client:
        try:
            return (await client.get(f"{service.url}/ready")).status_code == status
        except httpx.HTTPError:
            return False


async def _sleep_until(moment: datetime) -> None:
    """Wait for a wall-clock instant (a candle closes on the minute: the schedule is the
    market's, not a guess at how long something takes)."""
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        await asyncio.sleep(delay)


def _candle_gaps(candles: dict[str, list[Any]], live_from: datetime, until: datetime) -> list[str]:
    """Live minutes missing from InfluxDB, or whose close is not the recording's level."""
    gaps = []
    first = _minute(live_from)
    minutes = math.floor((until - first).total_seconds() / 60)
    for symbol in (*STRATEGY_SYMBOLS, MANUAL_SYMBOL):
        levels = {float(p) for p in LEVELS.get(symbol, MANUAL_LEVELS)}
        have = {c.start: c for c in candles[symbol]}
        for k in range(minutes):
            start = first + timedelta(minutes=k)
            candle = have.get(start)
            if candle is None:
                gaps.append(f"{symbol} {start:%H:%M} missing")
            elif candle.close not in levels:
                gaps.append(f"{symbol} {start:%H:%M} closed at {candle.close}")
    return gaps
