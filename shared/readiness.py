"""Readiness: does each dependency a service uses answer now, within a time limit?

A service lists its checks (``database``, ``redis``, ``influxdb``, ``celery broker``);
``/ready`` runs them side by side, each bounded by the same timeout, and answers 200
when all pass, else 503 naming the ones that failed and why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.bus import EventBus, InProcessEventBus

Check = Callable[[], Awaitable[None]]
"""Returns when the dependency answers; raises (anything) when it does not."""

DEFAULT_TIMEOUT_S = 2.0


class NotReady(Exception):
    pass


@dataclass(frozen=True)
class Readiness:
    """The outcome: each check's state ("ok" or why not), and the names that failed."""

    checks: dict[str, str]
    failed: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.failed

    def body(self) -> dict[str, object]:
        if self.ready:
            return {"status": "ready", "checks": self.checks}
        return {"status": "unavailable", "failed": self.failed, "checks": self.checks}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


async def _run(check: Check, timeout_s: float) -> str:
    try:
        async with asyncio.timeout(timeout_s):
            await check()
    except Exception as exc:
        return _reason(exc)
    return "ok"


async def check_all(checks: Mapping[str, Check], timeout_s: float = DEFAULT_TIMEOUT_S) -> Readiness:
    """Run every check at once, each within ``timeout_s``."""
    names = list(checks)
    states = await asyncio.gather(*(_run(checks[n], timeout_s) for n in names))
    result = dict(zip(names, states, strict=True))
    return Readiness(result, [n for n in names if result[n] != "ok"])


def database_check(engine: AsyncEngine) -> Check:
    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check


def bus_check(bus: EventBus) -> Check:
    async def check() -> None:
        if not await bus.ping():
            raise NotReady("ping failed")

    return check


def bus_checks(bus: EventBus) -> dict[str, Check]:
    """The bus's check, named ``redis`` (distributed) or ``event bus`` (in-process)."""
    return {"event bus" if isinstance(bus, InProcessEventBus) else "redis": bus_check(bus)}


def ping_check(ping: Callable[[], Awaitable[bool]], what: str = "ping failed") -> Check:
    """A dependency with a ``ping() -> bool`` (the tick store's InfluxDB)."""

    async def check() -> None:
        if not await ping():
            raise NotReady(what)

    return check


def redis_url_check(url: str) -> Check:
    """A Redis server by URL (the Celery broker): a fresh connection and PING."""

    async def check() -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(url, socket_connect_timeout=DEFAULT_TIMEOUT_S)
        try:
            if not await client.ping():
                raise NotReady("ping failed")
        finally:
            await client.aclose()

    return check


def tickstore_checks(store: object) -> dict[str, Check]:
    """InfluxDB's check when the tick store is the InfluxDB one (the local store lives in
    the process: nothing to check)."""
    ping = getattr(store, "ping", None)
    return {"influxdb": ping_check(ping)} if callable(ping) else {}
