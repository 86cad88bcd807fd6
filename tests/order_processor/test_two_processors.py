"""200 orders through two order processor processes; each WebSocket client sees every one of
its orders' states in order.

Two order processors run as their own processes (``order_processor.main``, the real
paper broker) on one PostgreSQL database and one Redis; they share the account
partitions (each owns half, through its leases) and consume their partitions' intent
streams. The gateway (REST and /ws,
its hub on the Redis bus) runs in this process under a real uvicorn server. Four
traders each keep a WebSocket subscribed to their ``orders`` channel from before
the first order. 200 LIMIT buys far below any price go in concurrently through
REST: those without a stop are DENIED by the risk chain (``stop_required``), the
rest rest OPEN; then a third of the open ones are cancelled and another third
change their limit price, concurrently. Every order must end as REST says, and
every client must have seen each of its orders from PENDING on, versions strictly
rising, up to the final version, and nothing of anyone else's.

Which process wrote an event is read from its ``event_id`` (the outbox gives each
process its own prefix): both processors must have decided orders, each only those of
the accounts in its partitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import sys
import time
from collections import Counter, defaultdict
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.service

ROOT = Path(__file__).resolve().parents[2]
R = "/api/v1"
TRADERS = 4
ORDERS = 200
CHUNK = 50  # requests in flight at once
DENY_EVERY = 8  # every 8th order has no stop: DENIED stop_required
DEADLINE_S = 60.0
STOP_WAIT_S = 5.0
# Only the kill switch and risk per trade, with a stop required: no check needs a
# last price (there is no tick store), and an order without a stop is denied.
LIMITS = {"check_order": ["kill_switch", "risk_per_trade"], "require_stop": True}
UNDECIDED = {"PENDING", "SUBMITTED", "PENDING_CANCEL", "PENDING_UPDATE"}

PROCESSOR = """
from order_processor.config import ProcessorOptions
from order_processor.main import run
from shared.config import Settings

run(
    Settings(),
    options=ProcessorOptions(
        read_count=4, read_block_ms=100, claim_idle_ms=5000, claim_every_s=0.5,
        sweep_every_s=0.5, stuck_after_s=1,
    ),
)
"""


@pytest.fixture
def redis():
    from tests.servers import MissingBinaryError, RedisServer

    try:
        server = RedisServer()
    except MissingBinaryError as exc:
        pytest.skip(str(exc))
    with server:
        yield server


def _processor(env: dict[str, str], name: str):
    from tests.servers import ProcessServer

    def ready(server) -> bool:
        return "order processor started" in server.log_path.read_text(errors="replace")

    return ProcessServer(
        [sys.executable, "-c", PROCESSOR],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        ready=ready,
        name=name,
        ready_timeout=60,
    )


def _reachable(before: str, after: str) -> bool:
    """Whether the order state machine leads from ``before`` to ``after``."""
    from order_processor.domain.states import ALLOWED_TRANSITIONS
    from shared.contracts import OrderStatus

    start, goal = OrderStatus(before), OrderStatus(after)
    frontier, seen = [start], {start}
    while frontier:
        for nxt in ALLOWED_TRANSITIONS.get(frontier.pop(), ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return False


class WsClient:
    """One trader's WebSocket, subscribed to ``orders``, recording every frame it receives."""

    def __init__(self, ws: Any, user_id: int) -> None:
        self.ws = ws
        self.user_id = user_id
        self.frames: list[dict[str, Any]] = []
        self.closed: str | None = None
        self.task = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, trader: Any) -> WsClient:
        import websockets

        ws = await websockets.connect(url, max_size=2**20)
        await ws.send(json.dumps({"op": "auth", "token": trader.access}))
        ready = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ready["op"] == "ready", ready
        await ws.send(json.dumps({"op": "subscribe", "channels": ["orders"]}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ack["op"] == "ack" and ack["channels"] == ["orders"], ack
        return cls(ws, trader.id)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append(json.loads(raw))
        except Exception as exc:
            self.closed = repr(exc)
        else:
            self.closed = "closed by the server"

    def by_order(self) -> dict[int, list[dict[str, Any]]]:
        events: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for frame in self.frames:
            if frame.get("channel") == "orders":
                events[frame["data"]["order_id"]].append(frame["data"])
        return events

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


async def _gather_chunks(calls: list[Any]) -> list[httpx.Response]:
    out: list[httpx.Response] = []
    for start in range(0, len(calls), CHUNK):
        out += await asyncio.gather(*(call() for call in calls[start : start + CHUNK]))
    return out


def _prefix(event_id: str | None) -> str | None:
    return event_id.rsplit("-", 1)[0] if event_id else None


async def test_two_processors_every_client_sees_its_orders_states_in_order(
    postgres_server, redis, new_database
):
    import uvicorn
    import websockets  # noqa: F401  (fail early when missing)

    from algotrade.migrate import upgrade
    from api_gateway.app import ROUTERS, create_app
    from api_gateway.context import GatewayContext
    from api_gateway.routers import orders as orders_router
    from api_gateway.routers import trading as trading_router
    from api_gateway.services.orders import SUBMIT_WAIT_KEY
    from shared import outbox as outbox_module
    from shared.bus.redis import RedisEventBus
    from shared.config import Settings
    from shared.contracts import GROUP_ORDER_PROCESSOR, ORDER_STREAMS, OrderEvent
    from shared.db import transaction
    from shared.models import UserRiskLimits
    from shared.redis_client import create_redis
    from tests.api_gateway.conftest import TEST_FERNET_KEY, TEST_JWT_SECRET
    from tests.api_gateway.factories import make_trader
    from websocket_service.endpoint import WsContext
    from websocket_service.endpoint import router as ws_router
    from websocket_service.hub import Hub

    started = time.monotonic()
    db_name = new_database("two_processors")
    dead_influx = "http://127.0.0.1:9"  # no tick store: limit orders need none
    env = {
        "ALGOTRADE_ENVIRONMENT": "development",
        "ALGOTRADE_PROFILE": "distributed",
        "ALGOTRADE_DB_HOST": postgres_server.host,
        "ALGOTRADE_DB_PORT": str(postgres_server.port),
        "ALGOTRADE_DB_NAME": db_name,
        "ALGOTRADE_DB_USER": postgres_server.user,
        "ALGOTRADE_REDIS_HOST": redis.host,
        "ALGOTRADE_REDIS_PORT": str(redis.port),
        "ALGOTRADE_INFLUX_URL": dead_influx,
        "ALGOTRADE_LOG_LEVEL": "INFO",
    }
    settings = Settings(
        _env_file=None,
        environment="test",
        profile="distributed",
        db_host=postgres_server.host,
        db_port=postgres_server.port,
        db_name=db_name,
        db_user=postgres_server.user,
        db_pool_size=20,
        db_max_overflow=20,
        redis_host=redis.host,
        redis_port=redis.port,
        influx_url=dead_influx,
        jwt_secret=TEST_JWT_SECRET,
        secrets_encryption_keys=[TEST_FERNET_KEY],
        max_login_attempts_per_address=1000,
    )
    await asyncio.to_thread(upgrade, settings.migration_url)

    processors = [_processor(env, "order-processor-a"), _processor(env, "order-processor-b")]
    bus = RedisEventBus(create_redis(host=redis.host, port=redis.port), owns_client=True)
    ctx = GatewayContext.build(settings, bus=bus)
    ctx.extras[SUBMIT_WAIT_KEY] = 10.0
    hub = Hub(bus, max_queue=10_000, send_timeout=5.0)
    server: uvicorn.Server | None = None
    serving: asyncio.Task[None] | None = None
    raw: Any = None
    raw_task: asyncio.Task[None] | None = None
    clients: list[WsClient] = []
    logs: dict[str, str] = {}
    try:
        for processor in processors:  # both consume before the first order
            processor.start()
        pids = [processor.pid for processor in processors]
        await _partitions_shared(ctx.sessions, DEADLINE_S)

        await hub.start()
        extra = [r for r in (orders_router.router, trading_router.router) if r not in ROUTERS]
        app = create_app(ctx, extra_routers=extra, app_routers=[ws_router])
        app.state.ws = WsContext(
            sessions=ctx.sessions, jwt=ctx.jwt, clock=ctx.clock, hub=hub, auth_timeout=5.0
        )
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=0,
                log_level="warning",
                lifespan="off",
                # The client reuses its connections across chunks; a server closing one idle
                # for uvicorn's default 5 s as the next request goes out fails that request.
                timeout_keep_alive=300,
            )
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:
            assert not serving.done(), "uvicorn did not start"
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]

        # What reaches this process from the bus, before the hub's version filter.
        raw_events: list[OrderEvent] = []
        raw = await bus.subscribe([], ["user:*"], maxsize=100_000)

        async def collect() -> None:
            async for _, message in raw:
                if isinstance(message, OrderEvent):
                    raw_events.append(message)

        raw_task = asyncio.create_task(collect())

        limits = httpx.Limits(max_connections=CHUNK * 2, max_keepalive_connections=CHUNK * 2)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits
        ) as client:
            traders = [await make_trader(client) for _ in range(TRADERS)]
            accounts: dict[int, int] = {}
            for trader in traders:
                r = await client.post(
                    f"{R}/broker-accounts",
                    headers=trader.headers,
                    json={
                        "label": f"two-processors-{trader.id}",
                        "starting_capital": "100000",
                        "currency": "USDT",
                    },
                )
                assert r.status_code == 201, r.text
                accounts[trader.id] = int(r.json()["id"])
            async with transaction(ctx.sessions) as session:
                for trader in traders:
                    session.add(UserRiskLimits(user_id=trader.id, limits=LIMITS))
            clients = [await WsClient.connect(f"ws://127.0.0.1:{port}/ws", t) for t in traders]

            # -- 200 orders, concurrently ------------------------------------------------
            def place(i: int):
                trader = traders[i % TRADERS]
                body: dict[str, Any] = {
                    "broker_account_id": accounts[trader.id],
                    "client_order_id": f"two-{i}",
                    "symbol": "SOLUSDT",
                    "side": "BUY",
                    "quantity": "1",
                    "order_type": "LIMIT",
                    "limit_price": "100",
                }
                if i % DENY_EVERY != DENY_EVERY - 1:
                    body["stop"] = "90"
                return lambda: client.post(f"{R}/orders", headers=trader.headers, json=body)

            placed = await _gather_chunks([place(i) for i in range(ORDERS)])
            assert [r.status_code for r in placed] == [201] * ORDERS, [
                r.text for r in placed if r.status_code != 201
            ]
            owner: dict[int, Any] = {}  # order id -> trader
            denied: set[int] = set()
            open_ids: list[int] = []
            for i, r in enumerate(placed):
                order = r.json()
                owner[order["id"]] = traders[i % TRADERS]
                if i % DENY_EVERY == DENY_EVERY - 1:
                    assert order["status"] == "DENIED", order
                    assert order["reason_code"] == "stop_required", order
                    denied.add(order["id"])
                else:
                    assert order["status"] == "OPEN", order
                    open_ids.append(order["id"])

            # -- cancel a third of the open ones, change another third, concurrently ---
            cancelled = set(open_ids[0::3])
            changed = set(open_ids[1::3])

            def command(order_id: int):
                headers = owner[order_id].headers
                if order_id in cancelled:
                    return lambda: client.post(f"{R}/orders/{order_id}/cancel", headers=headers)
                return lambda: client.patch(
                    f"{R}/orders/{order_id}", headers=headers, json={"limit_price": "95"}
                )

            commanded = sorted(cancelled | changed)
            answers = await _gather_chunks([command(o) for o in commanded])
            for order_id, r in zip(commanded, answers, strict=True):
                assert r.status_code in (200, 202), (order_id, r.status_code, r.text)

            # -- every order final over REST, and its final version on its client -------
            expected_status = {o: "OPEN" for o in open_ids}
            expected_status.update({o: "DENIED" for o in denied})
            expected_status.update({o: "CANCELLED" for o in cancelled})
            deadline = time.monotonic() + DEADLINE_S
            rest: dict[int, dict[str, Any]] = {}
            while True:

                def get(order_id: int):
                    headers = owner[order_id].headers
                    return lambda: client.get(f"{R}/orders/{order_id}", headers=headers)

                todo = [o for o in owner if rest.get(o, {}).get("status", "PENDING") in UNDECIDED]
                for order_id, r in zip(todo, await _gather_chunks([get(o) for o in todo])):
                    assert r.status_code == 200, r.text
                    rest[order_id] = r.json()
                settled = all(o["status"] not in UNDECIDED for o in rest.values())
                seen = {
                    order_id: events[-1]["version"]
                    for c in clients
                    for order_id, events in c.by_order().items()
                }
                caught_up = all(seen.get(o) == rest[o]["version"] for o in owner)
                if settled and caught_up:
                    break
                if time.monotonic() > deadline:
                    behind = [o for o in owner if seen.get(o) != rest[o]["version"]]
                    undecided = sum(o["status"] in UNDECIDED for o in rest.values())
                    examples = [
                        (o, rest[o]["status"], rest[o]["version"], seen.get(o)) for o in behind
                    ]
                    raise AssertionError(
                        f"not settled within {DEADLINE_S}s: {undecided} undecided, "
                        f"{len(behind)} orders behind on WebSocket, e.g. {examples[:5]}"
                    )
                await asyncio.sleep(0.2)

            # Nothing else arrives afterwards (a late duplicate, an older version).
            await asyncio.sleep(0.5)
            async with _redis_client(redis) as r:
                consumers, pending = [], 0
                for stream in ORDER_STREAMS:
                    if await r.exists(stream):
                        consumers += await r.xinfo_consumers(stream, GROUP_ORDER_PROCESSOR)
                        pending += (await r.xpending(stream, GROUP_ORDER_PROCESSOR))["pending"]
            lost = {c.user_id: c.closed for c in clients if c.closed is not None}
        elapsed = time.monotonic() - started
    finally:
        for c in clients:
            await c.close()
        if raw is not None:
            await raw.close()
        if raw_task is not None:
            raw_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await raw_task
        if server is not None:
            server.should_exit = True
        if serving is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(serving, 5)
        await hub.stop()
        # SIGTERM both at once; one that has not exited after STOP_WAIT_S is killed.
        await asyncio.gather(*(asyncio.to_thread(p.stop, STOP_WAIT_S) for p in processors))
        for processor in processors:
            logs[processor.name] = processor.log_tail(100_000)
            processor.cleanup()
        await bus.close()
        await ctx.engine.dispose()

    # -- the REST outcome -----------------------------------------------------------
    assert {o: rest[o]["status"] for o in owner} == expected_status
    for order_id in changed:
        assert Decimal(rest[order_id]["limit_price"]) == Decimal(95), rest[order_id]
        assert rest[order_id]["reason_code"] is None, rest[order_id]
    for order_id in set(open_ids) - changed - cancelled:
        assert Decimal(rest[order_id]["limit_price"]) == Decimal(100), rest[order_id]

    # -- what each client saw -----------------------------------------------------------
    gateway = outbox_module._PROCESS  # this process's event id prefix
    writers: Counter[str | None] = Counter()
    assert not lost, f"clients lost their sockets: {lost}"
    for c in clients:
        assert {f.get("channel") for f in c.frames} <= {"orders"}, c.frames[:3]
        assert {f["data"]["user_id"] for f in c.frames} <= {c.user_id}, "another user's order"
        mine = {o for o, t in owner.items() if t.id == c.user_id}
        events = c.by_order()
        assert set(events) == mine, set(events) ^ mine
        for order_id, got in events.items():
            statuses = [e["status"] for e in got]
            versions = [e["version"] for e in got]
            assert statuses[0] == "PENDING", (order_id, statuses)
            assert all(a < b for a, b in pairwise(versions)), (order_id, versions)
            assert all(_reachable(a, b) for a, b in pairwise(statuses)), (
                order_id,
                statuses,
            )
            last = got[-1]
            assert (last["status"], last["version"]) == (
                rest[order_id]["status"],
                rest[order_id]["version"],
            ), (order_id, statuses, versions, rest[order_id])
            if order_id in changed:
                assert Decimal(last["limit_price"]) == Decimal(95), last
            writers.update(_prefix(e.get("event_id")) for e in got if e["status"] != "PENDING")

    # -- both processors did part of the work ---------------------------------------------
    # Both processes joined the group under their own name (Redis 7.0 keeps no count of
    # what each consumer was delivered: the events' writers below tell who did what).
    host = socket.gethostname()
    assert {_text(c["name"]) for c in consumers} == {f"{host}-{pid}" for pid in pids}, consumers
    assert pending == 0, pending
    placed_by = _placed_by(raw_events)  # order id -> the process that decided it
    decided_by = Counter(placed_by.values())
    assert set(placed_by) == set(owner), "an order's decision was not seen on the bus"
    assert gateway not in decided_by, decided_by
    assert len(decided_by) == 2, f"decisions by {dict(decided_by)}: one processor took nothing"
    assert min(decided_by.values()) >= ORDERS // 10, f"lopsided: {dict(decided_by)}"

    # -- the processors' logs -------------------------------------------------------------
    problems = {
        name: [line for line in log.splitlines() if re.search(r"ERROR|Traceback|CRITICAL", line)]
        for name, log in logs.items()
    }
    stopped = {n: "order processor stopped" in log for n, log in logs.items()}
    report = _report(
        raw_events, clients, writers, placed_by, cancelled, changed, gateway, hub, elapsed
    )
    report += f"\n  stopped on SIGTERM within {STOP_WAIT_S:.0f}s (else killed): {stopped}"
    for name, found in problems.items():
        report += f"\n  {name}: {len(found)} ERROR/Traceback lines"
        report += "".join(f"\n    {line}" for line in found[:10])
    print(report)
    assert not any(problems.values()), report


async def _partitions_shared(sessions, deadline_s: float) -> None:
    """Wait until the two processors hold every partition between them, half each."""
    from sqlalchemy import select

    from shared.models import OrderPartition

    limit = time.monotonic() + deadline_s
    while True:
        async with sessions() as session:
            owners = list((await session.scalars(select(OrderPartition.owner))).all())
        if None not in owners and len(set(owners)) == 2:
            assert sorted(Counter(owners).values()) == [8, 8], owners
            return
        assert time.monotonic() < limit, f"partitions not shared: {owners}"
        await asyncio.sleep(0.2)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@contextlib.asynccontextmanager
async def _redis_client(server):
    from shared.redis_client import create_redis

    client = create_redis(host=server.host, port=server.port)
    try:
        yield client
    finally:
        await client.aclose()


def _placed_by(raw_events) -> dict[int, str | None]:
    """Order id -> the event id prefix (the process) of the event that decided it."""
    decided: dict[int, Any] = {}
    for e in raw_events:
        first = e.order_id not in decided or e.version < decided[e.order_id].version
        if e.status in ("OPEN", "DENIED", "REJECTED") and first:
            decided[e.order_id] = e
    return {o: _prefix(e.event_id) for o, e in decided.items()}


def _report(raw_events, clients, writers, placed_by, cancelled, changed, gateway, hub, elapsed):
    """What was seen, for the record (printed with -s)."""
    late = 0  # events that reached this process not newer than one seen before of that order
    newest: dict[int, int] = {}
    last: dict[int, Any] = {}
    for e in raw_events:
        if e.version <= newest.get(e.order_id, 0):
            late += 1
        else:
            last[e.order_id] = e
        newest[e.order_id] = max(newest.get(e.order_id, 0), e.version)
    # Cancels and changes carried out by the other processor than the one that placed the
    # order: that one's paper book still holds the order as placed (a ghost).
    crossed: Counter[str] = Counter()
    for kind, ids in (("cancels", cancelled), ("changes", changed)):
        for order_id in ids:
            same = _prefix(last[order_id].event_id) == placed_by[order_id]
            crossed[f"{kind} by the {'placing' if same else 'other'} processor"] += 1
    frames = sum(len(c.frames) for c in clients)
    return "\n".join(
        [
            f"two processors: {elapsed:.1f}s; orders decided per processor "
            f"{sorted(Counter(placed_by.values()).values())}",
            f"  order events on the bus {len(raw_events)} (not newer on arrival: {late}); "
            f"frames to clients {frames}; hub dropped {hub.order_versions.dropped} old "
            f"versions, {hub.event_ids.dropped} repeated ids",
            f"  client-seen events by writer: gateway {writers.get(gateway, 0)}, "
            f"processors {sorted(v for k, v in writers.items() if k != gateway)}",
            f"  {dict(sorted(crossed.items()))}",
        ]
    )
