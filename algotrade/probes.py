"""The probes of ``algotrade status``: each asks one part whether it answers, in time."""

from __future__ import annotations

import asyncio

import httpx
from pydantic import BaseModel
from sqlalchemy.engine import make_url

from algotrade.context import CliContext
from algotrade.migrate import current_revision, heads
from shared.bus import InProcessEventBus, NoGroup
from shared.config import Settings
from shared.contracts import GROUP_ORDER_PROCESSOR, ORDER_STREAMS


class Check(BaseModel):
    name: str
    ok: bool | None
    """None: nothing to probe from here (e.g. the embedded profile's in-process bus)."""
    detail: str
    required: bool = True
    """A required part being down makes ``status`` exit with 1."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


async def probe_database(cli: CliContext, limit_s: float) -> Check:
    """Reachable, and at the migrations' head?"""
    where = make_url(cli.settings.sqlalchemy_url).render_as_string(hide_password=True)
    try:
        async with asyncio.timeout(limit_s):
            async with cli.engine.connect() as conn:
                current = await conn.run_sync(current_revision)
    except Exception as exc:
        return Check(name="database", ok=False, detail=f"{where}: {_reason(exc)}")
    head = ", ".join(heads(cli.settings.migration_url))
    if current is None:
        detail = f"{where}: not migrated (run `algotrade migrate`)"
        return Check(name="database", ok=False, detail=detail)
    if current != head:
        detail = f"{where}: at {current}, migrations at {head} (run `algotrade migrate`)"
        return Check(name="database", ok=False, detail=detail)
    return Check(name="database", ok=True, detail=f"{where}: at head {head}")


async def probe_bus(cli: CliContext, limit_s: float) -> list[Check]:
    """The bus, and the order processor's backlog on its stream (distributed profile)."""
    if isinstance(cli.bus, InProcessEventBus):
        detail = "in-process (embedded profile): it lives inside `algotrade run`"
        return [Check(name="event bus", ok=None, detail=detail)]
    where = f"redis {cli.settings.redis_host}:{cli.settings.redis_port}"
    try:
        async with asyncio.timeout(limit_s):
            if not await cli.bus.ping():
                raise ConnectionError("ping failed")
            pending, grouped = 0, 0
            for stream in ORDER_STREAMS:  # one per account partition
                try:
                    pending += await cli.bus.pending_count(stream, GROUP_ORDER_PROCESSOR)
                except NoGroup:
                    continue
                grouped += 1
            if not grouped:
                raise NoGroup(ORDER_STREAMS[0], GROUP_ORDER_PROCESSOR)
    except NoGroup:
        return [
            Check(name="event bus", ok=True, detail=where),
            Check(
                name="order processor",
                ok=False,
                required=False,
                detail="no consumer group on the order stream: never started",
            ),
        ]
    except Exception as exc:
        return [Check(name="event bus", ok=False, detail=f"{where}: {_reason(exc)}")]
    backlog = f"{pending} order messages taken and not yet acknowledged"
    return [
        Check(name="event bus", ok=True, detail=where),
        Check(name="order processor", ok=True, required=False, detail=backlog),
    ]


async def probe_tickstore(cli: CliContext, limit_s: float, symbol: str) -> Check:
    """Does the tick store answer a query?"""
    stats = cli.tickstore.stats()
    backend = str(stats.get("backend", "tick store"))
    where = cli.settings.influx_url if backend == "influx" else str(stats.get("path") or "memory")
    try:
        async with asyncio.timeout(limit_s):
            await cli.tickstore.latest_tick(symbol)
    except Exception as exc:
        return Check(name="tick store", ok=False, detail=f"{backend} {where}: {_reason(exc)}")
    return Check(name="tick store", ok=True, detail=f"{backend} {where}")


def service_url(
    settings: Settings, port: int, path: str = "/ready", host: str | None = None
) -> str:
    """The URL of ``path`` of a service listening on ``port`` of ``host`` (default
    ALGOTRADE_API_HOST; a wildcard address is asked on loopback)."""
    host = settings.api_host if host is None else host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return f"http://{host}:{port}{path}"


def worker_urls(settings: Settings) -> list[tuple[str, str]]:
    """(name, /ready URL) of each process with a health listener configured
    (ALGOTRADE_*_PROBE_PORT, on ALGOTRADE_PROBE_HOST)."""
    ports = [
        ("market data", settings.market_data_probe_port),
        ("order processor process", settings.order_processor_probe_port),
        ("strategy worker", settings.strategy_worker_probe_port),
        ("analytics worker", settings.analytics_worker_probe_port),
    ]
    return [
        (name, service_url(settings, port, "/ready", settings.probe_host))
        for name, port in ports
        if port
    ]


async def probe_http(client: httpx.AsyncClient, name: str, url: str) -> Check:
    """An HTTP service: does its /ready answer 200 (it runs, and every dependency it uses
    answers)? A 503 names the dependencies that did not. (Reported, never required: the
    command may run on another machine than the service.)"""
    try:
        answer = await client.get(url)
    except httpx.HTTPError as exc:
        return Check(name=name, ok=False, required=False, detail=f"{url}: {_reason(exc)}")
    ok = answer.status_code == 200
    detail = f"{url}: HTTP {answer.status_code}"
    failed = _failed(answer) if not ok else []
    if failed:
        detail += f" ({', '.join(failed)} not answering)"
    return Check(name=name, ok=ok, required=False, detail=detail)


def _failed(answer: httpx.Response) -> list[str]:
    """The dependencies a /ready answer names as failed (none when it is not that shape)."""
    try:
        body = answer.json()
    except ValueError:
        return []
    failed = body.get("failed") if isinstance(body, dict) else None
    return [str(f) for f in failed] if isinstance(failed, list) else []
