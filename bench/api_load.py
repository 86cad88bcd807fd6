"""Simulated traders against the gateway of the distributed profile: authenticated reads.

The API gateway (``algotrade serve api``: one uvicorn process, or as many worker
processes as the environment's ``API_LOAD_WORKERS`` says, through
``ALGOTRADE_API_WORKERS``) runs on throwaway PostgreSQL, Redis (event bus and the
shared per-user rate limits, left on at their defaults) and InfluxDB (a few ticks
written so quotes have prices). K traders (1,000; quick 50) register and sign in through the API
(httpx) and each opens a paper account. Then each trader in turn reads what a
dashboard reads: ``/orders``, ``/positions``, ``/fills``, ``/broker-accounts``,
the account summary and ``/market/quotes`` of five symbols, sent by a minimal
keep-alive HTTP client (``RawHttp``) so the load generator is not the bottleneck.

Each phase is also run against ``GET /health`` (no sign-in, no database) as the
reference of the same run:
- closed loop: 32 requests in flight at all times, the mix and each read alone
  (8 in flight): the most one gateway process serves, and the CPU it spends;
- open loop at 500 req/s: requests started at a fixed rate for a fixed time
  whatever the answers; answered (200) per second, p50/p99 from the request's
  start to its answer, error rate (anything not 200 within 5 s, 429 included).
  Target: authenticated reads p99 at or under 50 ms at 500 req/s;
- open loop at half the closed-loop maximum: the latency below saturation.

The per-user read limit (100/s, bursts of 200) is not reached: the 500 req/s are
spread over K traders, consecutive requests from different traders.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench._core import Metric, median, percentile

DESCRIPTION = "API load: K traders' authenticated reads at 500 req/s vs /health, distributed"

ROOT = Path(__file__).resolve().parents[1]
RATE = 500.0
TARGET_P99_MS = 50.0
IN_FLIGHT = 32
TIMEOUT_S = 5.0  # a request unanswered this long counts as an error (status 0)
WORKERS_ENV = "API_LOAD_WORKERS"  # gateway processes (ALGOTRADE_API_WORKERS); default 1
PASSWORD = "load test password of a trader 42"
GATEWAY = """
from algotrade.services import serve_service
from shared.config import Settings

serve_service("api", Settings())
"""


async def _traders(http: Any, count: int) -> list[tuple[str, int]]:
    """Register, sign in and open a paper account for ``count`` traders: (token, account)."""
    gate = asyncio.Semaphore(8)

    async def one(n: int) -> tuple[str, int]:
        async with gate:
            email = f"load{n}@example.com"
            r = await http.post(
                "/api/v1/auth/register",
                json={"email": email, "password": PASSWORD, "full_name": f"Trader {n}"},
            )
            r.raise_for_status()
            r = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
            r.raise_for_status()
            token = r.json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            r = await http.post("/api/v1/broker-accounts", json={"label": "main"}, headers=headers)
            r.raise_for_status()
            return token, int(r.json()["id"])

    return list(await asyncio.gather(*(one(n) for n in range(count))))


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client for the load phases: a pool of connections,
    one request at a time on each. httpx spends about 2 ms of CPU a request here, so one
    process of it cannot offer 500 req/s (it served /health at about 425/s using a whole
    core while the gateway idled); this costs a fraction of that."""

    def __init__(self, host: str, port: int, size: int = 256) -> None:
        self.host, self.port, self.size = host, port, size
        self._free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self._opened = 0

    async def _acquire(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        if self._free.empty() and self._opened < self.size:
            self._opened += 1
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except BaseException:
                self._opened -= 1
                raise
            return reader, writer, False
        reader, writer = await self._free.get()
        return reader, writer, True

    async def get(self, path: str, headers: dict[str, str]) -> int:
        """GET ``path``; the status (the body is read and dropped)."""
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        for _ in range(2):  # once more on a fresh connection if a kept-alive one was closed
            reader, writer, reused = await self._acquire()
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                await _read_body(reader, head)
            except BaseException as exc:
                writer.close()
                self._opened -= 1
                if reused and isinstance(exc, asyncio.IncompleteReadError | ConnectionError):
                    continue
                raise
            self._free.put_nowait((reader, writer))
            return status
        raise ConnectionError("the gateway closed the connection twice")

    async def close(self) -> None:
        while not self._free.empty():
            _, writer = self._free.get_nowait()
            writer.close()
        self._opened = 0


async def _read_body(reader: asyncio.StreamReader, head: bytes) -> None:
    lowered = head.lower()
    at = lowered.find(b"content-length:")
    if at >= 0:
        end = lowered.find(b"\r\n", at)
        await reader.readexactly(int(lowered[at + 15 : end]))
        return
    if b"transfer-encoding: chunked" in lowered:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                return


def _reads(traders: list[tuple[str, int]], symbols: str) -> list[tuple[str, dict[str, str]]]:
    """The requests of one pass: each trader's next read, round robin over the reads."""
    paths = [
        "/api/v1/orders",
        "/api/v1/positions",
        "/api/v1/broker-accounts",
        f"/api/v1/market/quotes?symbols={symbols}",
        "/api/v1/fills",
        "/api/v1/accounts/{account}/summary",
    ]
    out = []
    for i, (token, account) in enumerate(traders):
        for k in range(len(paths)):
            path = paths[(i + k) % len(paths)].replace("{account}", str(account))
            out.append((path, {"Authorization": f"Bearer {token}"}))
    # Interleave traders: consecutive requests come from different users.
    n = len(traders)
    return [out[(j % n) * len(paths) + (j // n)] for j in range(len(out))]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """This process's garbage collector off for a phase (collected before, on after): a
    full collection of the load generator's heap took 80 ms and showed as a stall of every
    request in flight, the gateway's slowest answers."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _open_loop(
    http: RawHttp, requests: list[tuple[str, dict[str, str]]], rate: float, seconds: float
) -> dict[str, float]:
    with _collector_paused():
        return await _open_loop_run(http, requests, rate, seconds)


async def _open_loop_run(
    http: RawHttp, requests: list[tuple[str, dict[str, str]]], rate: float, seconds: float
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    statuses: dict[int, int] = {}

    async def one(i: int) -> None:
        nonlocal errors
        path, headers = requests[i % len(requests)]
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(TIMEOUT_S):
                code = await http.get(path, headers)
        except Exception:
            code = 0
        latencies.append(time.perf_counter() - t0)
        statuses[code] = statuses.get(code, 0) + 1
        if code != 200:
            errors += 1

    tasks = []
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    took = time.perf_counter() - start
    return {
        "rate": (total - errors) / took,  # answered 200, per second
        "p50_ms": median(latencies) * 1e3,
        "p99_ms": percentile(latencies, 99) * 1e3,
        "error_rate": errors / total,
        "statuses": statuses,  # type: ignore[dict-item]
    }


async def _closed_loop(
    http: RawHttp,
    requests: list[tuple[str, dict[str, str]]],
    seconds: float,
    pid: int | None,
    in_flight: int = IN_FLIGHT,
) -> dict[str, float]:
    """``in_flight`` requests outstanding at all times: requests/s served, p50, and the CPU
    the gateway and this process spent per second."""
    latencies: list[float] = []
    end = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        while time.perf_counter() < end:
            path, headers = requests[next(counter) % len(requests)]
            t0 = time.perf_counter()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(TIMEOUT_S):
                    await http.get(path, headers)
            latencies.append(time.perf_counter() - t0)

    with _collector_paused():
        cpu0, own0, start = _cpu_s(pid), time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        took = time.perf_counter() - start
    return {
        "rate": len(latencies) / took,
        "p50_ms": median(latencies) * 1e3,
        "gateway_cpu": (_cpu_s(pid) - cpu0) / took,
        "client_cpu": (time.process_time() - own0) / took,
    }


def _cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) a process and its children (the workers) have used."""
    if pid is None:
        return math.nan
    ticks = 0
    family = {pid}
    stats = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stats.append((int(entry.name), (entry / "stat").read_text()))
    parents = {p: int(text.rsplit(")", 1)[1].split()[1]) for p, text in stats}
    grew = True
    while grew:
        grew = False
        for p, parent in parents.items():
            if parent in family and p not in family:
                family.add(p)
                grew = True
    for p, text in stats:
        if p in family:
            fields = text.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def _write_ticks(url: str, symbols: list[str]) -> None:
    import numpy as np

    from shared.tickstore.influx import InfluxTickStore

    now = time.time_ns()
    async with InfluxTickStore(url, "algotrade") as store:
        await store.write_ticks(
            np.array(symbols, dtype=object),
            np.array([now - 1_000_000 * k for k in range(len(symbols))], dtype=np.int64),
            np.array([100.0 + k for k in range(len(symbols))]),
            np.ones(len(symbols)),
        )
        await store.flush()


async def _bench(
    postgres: Any, redis: Any, influx: Any, traders: int, seconds: float, workers: int = 1
) -> dict[str, Any]:
    import httpx

    from algotrade.migrate import upgrade
    from shared.config import Settings
    from shared.instruments import load_catalog
    from tests.servers import ProcessServer

    postgres.create_database("apiload")
    settings = Settings(
        _env_file=None,
        profile="distributed",
        db_host=postgres.host,
        db_port=postgres.port,
        db_name="apiload",
        db_user=postgres.user,
    )
    await asyncio.to_thread(upgrade, settings.migration_url)
    symbols = [i.symbol for i in load_catalog().all()[:5]]
    await _write_ticks(influx.url, symbols)

    def ready(server: Any) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    gateway = ProcessServer(
        [sys.executable, "-c", GATEWAY],
        env={"PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        ready=ready,
        name="api-gateway",
        ready_timeout=60,
    )
    gateway.extra_env |= {
        "ALGOTRADE_ENVIRONMENT": "development",
        "ALGOTRADE_PROFILE": "distributed",
        "ALGOTRADE_API_PORT": str(gateway.port),
        "ALGOTRADE_DB_HOST": postgres.host,
        "ALGOTRADE_DB_PORT": str(postgres.port),
        "ALGOTRADE_DB_NAME": "apiload",
        "ALGOTRADE_DB_USER": postgres.user,
        "ALGOTRADE_REDIS_HOST": redis.host,
        "ALGOTRADE_REDIS_PORT": str(redis.port),
        "ALGOTRADE_INFLUX_URL": influx.url,
        "ALGOTRADE_LOG_LEVEL": "WARNING",
        "ALGOTRADE_API_WORKERS": str(workers),
    }
    found: dict[str, Any] = {}
    try:
        gateway.start()
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gateway.port}", timeout=60
        ) as setup:
            t0 = time.perf_counter()
            signed_in = await _traders(setup, traders)
            found["setup_s"] = time.perf_counter() - t0
        reads = _reads(signed_in, ",".join(symbols))
        health: list[tuple[str, dict[str, str]]] = [("/health", {})]
        pid = gateway.pid
        http = RawHttp("127.0.0.1", gateway.port)
        try:
            await _closed_loop(http, reads, 2, pid)  # warm the pools and caches
            found["reads_max"] = await _closed_loop(http, reads, seconds / 2, pid)
            found["health_max"] = await _closed_loop(http, health, seconds / 2, pid)
            for path in sorted({p.split("?")[0].split("/")[3] for p, _ in reads}):
                only = [r for r in reads if r[0].split("/")[3] == path]
                found[f"max {path}"] = await _closed_loop(http, only, 3, pid, 8)
            found["reads"] = await _open_loop(http, reads, RATE, seconds)
            found["health"] = await _open_loop(http, health, RATE, seconds)
            half = found["reads_max"]["rate"] / 2
            found["reads_half"] = await _open_loop(http, reads, half, seconds)
            found["health_half"] = await _open_loop(http, health, half, seconds)
            found["half_rate"] = half
        finally:
            await http.close()
        for key, value in found.items():
            print(key, value, flush=True)
    finally:
        gateway.cleanup()
    return found


def run(quick: bool) -> list[Metric]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    from tests.servers import InfluxServer, PostgresServer, RedisServer

    traders, seconds = (50, 10.0) if quick else (1_000, 30.0)
    workers = int(os.environ.get(WORKERS_ENV, "1"))
    with PostgresServer() as postgres, RedisServer() as redis, InfluxServer() as influx:
        found = asyncio.run(_bench(postgres, redis, influx, traders, seconds, workers))
    reads, health = found["reads"], found["health"]  # "rate": answered 200 per second
    p99 = reads["p99_ms"]
    return [
        Metric(
            "reads_req_per_s",
            reads["rate"],
            "req/s",
            reference=f"GET /health offered {RATE:g}/s, same run",
            reference_value=health["rate"],
        ),
        Metric(
            "reads_p50_ms",
            reads["p50_ms"],
            "ms",
            reference="GET /health p50",
            reference_value=health["p50_ms"],
        ),
        Metric(
            "reads_p99_ms",
            p99,
            "ms",
            reference="GET /health p99",
            reference_value=health["p99_ms"],
            target=f"<= {TARGET_P99_MS:g} ms at {RATE:g} req/s",
            met=p99 <= TARGET_P99_MS and reads["rate"] >= 0.98 * RATE,
        ),
        Metric(
            "reads_error_rate",
            reads["error_rate"],
            "share",
            reference="GET /health error rate",
            reference_value=health["error_rate"],
        ),
        Metric(
            "reads_p99_ms_at_half_max",
            found["reads_half"]["p99_ms"],
            "ms",
            reference=f"GET /health p99 at the same {found['half_rate']:.0f} req/s",
            reference_value=found["health_half"]["p99_ms"],
        ),
        Metric(
            "reads_p50_ms_at_half_max",
            found["reads_half"]["p50_ms"],
            "ms",
            reference="GET /health p50, same rate",
            reference_value=found["health_half"]["p50_ms"],
        ),
        Metric(
            "reads_max_req_per_s",
            found["reads_max"]["rate"],
            "req/s",
            reference=f"GET /health, {IN_FLIGHT} in flight",
            reference_value=found["health_max"]["rate"],
        ),
        Metric(
            "reads_max_gateway_cpu",
            found["reads_max"]["gateway_cpu"],
            "cores",
            reference="GET /health",
            reference_value=found["health_max"]["gateway_cpu"],
        ),
        *[
            Metric(
                f"max_req_per_s {key[4:]}",
                found[key]["rate"],
                "req/s",
                reference="GET /health",
                reference_value=found["health_max"]["rate"],
            )
            for key in sorted(found)
            if key.startswith("max ")
        ],
        Metric("gateway_processes", workers, "processes"),
        Metric("traders", traders, "traders"),
        Metric("trader_setup_s", found["setup_s"], "s"),
    ]
