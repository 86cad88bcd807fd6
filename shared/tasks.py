"""Task contracts between the market data engine and the strategy workers (Celery).

Tasks are sent by name (``TASK_EVALUATE_CANDLES``) with JSON payloads, one task
per shard of symbols, so the sender needs no worker code, only this module. A task
carries when its candles closed (keyword ``closed_at``, ISO 8601): a worker that
receives it too late (a redelivery, a retry) records the candles as skipped.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from shared.config import Settings
from shared.contracts import TASK_EVALUATE_CANDLES, CandleMsg

DEFAULT_QUEUE = "strategy_workers"
DEFAULT_SHARDS = 8


class TaskSender(Protocol):
    def send_task(self, name: str, args: Any = ..., **options: Any) -> Any: ...


def broker_url(settings: Settings) -> str:
    """``redis://[:password@]host:port/db`` from the ``ALGOTRADE_REDIS_*`` settings."""
    if settings.redis_cluster_mode:
        raise ValueError(
            "Celery's Redis broker needs a standalone Redis (or a Sentinel setup); "
            "point ALGOTRADE_REDIS_HOST/PORT at one for the strategy workers"
        )
    password = settings.redis_password.get_secret_value() if settings.redis_password else ""
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{settings.redis_host}:{settings.redis_port}/{settings.redis_db}"


def shard_of(symbol: str, shards: int) -> int:
    """The shard of ``symbol``: stable across processes (``hash()`` is salted per process)."""
    return zlib.crc32(symbol.encode()) % shards


def shard_candles(
    candles: Iterable[CandleMsg], shards: int = DEFAULT_SHARDS
) -> dict[int, list[dict[str, Any]]]:
    """Task payloads by shard: JSON-ready candle dicts; every timeframe of a symbol together."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    out: dict[int, list[dict[str, Any]]] = {}
    for candle in candles:
        out.setdefault(shard_of(candle.symbol, shards), []).append(candle.model_dump(mode="json"))
    return dict(sorted(out.items()))


def dispatch_candles(
    sender: TaskSender,
    candles: Iterable[CandleMsg],
    shards: int = DEFAULT_SHARDS,
    *,
    queue: str = DEFAULT_QUEUE,
    closed_at: datetime | None = None,
) -> int:
    """Send one evaluation task per non-empty shard; returns how many were sent.

    ``closed_at`` (default: now) is when the candles closed; the task's age is judged by it.
    """
    payloads = shard_candles(candles, shards)
    stamp = (closed_at or datetime.now(UTC)).isoformat()
    for payload in payloads.values():
        sender.send_task(
            TASK_EVALUATE_CANDLES, args=[payload], kwargs={"closed_at": stamp}, queue=queue
        )
    return len(payloads)
