"""Redis clients for the platform: standalone or Cluster, async for services, sync for Celery.

Every client retries commands that fail on a lost connection or a timeout with
exponential back-off and jitter, checks idle connections before use
(``health_check_interval``), and keeps TCP keep-alive on, so a restarted Redis
is reconnected to without the caller's help.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict

import redis
import redis.asyncio
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import EqualJitterBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

if TYPE_CHECKING:
    from shared.config import Settings

__all__ = [
    "AsyncRedisClient",
    "SyncRedisClient",
    "create_redis",
    "create_redis_from_settings",
    "create_sync_redis",
    "create_sync_redis_from_settings",
    "parse_nodes",
]

# redis-py ships its own (non-generic) types; the older types-redis stubs make these
# classes generic. The ignores keep mypy clean with either source of types.
AsyncRedisClient: TypeAlias = "redis.asyncio.Redis | AsyncRedisCluster"  # type: ignore[type-arg, unused-ignore]
SyncRedisClient: TypeAlias = "redis.Redis | RedisCluster"  # type: ignore[type-arg, unused-ignore]

RETRIES = 5
BACKOFF_BASE = 0.05  # seconds; doubles per attempt, with jitter, up to the cap
BACKOFF_CAP = 2.0
HEALTH_CHECK_INTERVAL = 15  # seconds a connection may sit idle before a PING checks it


def parse_nodes(nodes: list[str], default_port: int = 6379) -> list[tuple[str, int]]:
    """``["host:port", "[::1]:7000", "host"]`` -> ``[(host, port), ...]``."""
    parsed: list[tuple[str, int]] = []
    for node in nodes:
        text = node.strip()
        host, sep, port = text.rpartition(":")
        if not sep or host.endswith(":"):  # no port, or a bare IPv6 address
            host, port = text, str(default_port)
        parsed.append((host.strip("[]"), int(port)))
    return parsed


def _cluster_nodes(host: str, port: int, cluster_nodes: list[str] | None) -> list[tuple[str, int]]:
    return parse_nodes(cluster_nodes, port) if cluster_nodes else [(host, port)]


def _connection_options(
    *,
    password: str | None,
    socket_timeout: float,
    decode_responses: bool,
    health_check_interval: int,
    retry: object,
) -> dict[str, Any]:
    return {
        "password": password,
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        "socket_keepalive": True,
        "health_check_interval": health_check_interval,
        "retry": retry,
        "decode_responses": decode_responses,
    }


def _pool_options(
    host: str, port: int, db: int, max_connections: int, socket_timeout: float
) -> dict[str, Any]:
    # ``timeout``: how long a caller waits for a free connection when all are busy.
    return {
        "host": host,
        "port": port,
        "db": db,
        "max_connections": max_connections,
        "timeout": socket_timeout,
    }


def _check_cluster_db(db: int) -> None:
    if db != 0:
        raise ValueError("Redis Cluster has only database 0; set db=0 in cluster mode")


def create_redis(
    *,
    host: str,
    port: int,
    db: int = 0,
    password: str | None = None,
    max_connections: int = 50,
    cluster_mode: bool = False,
    cluster_nodes: list[str] | None = None,
    socket_timeout: float = 5.0,
    decode_responses: bool = False,
    health_check_interval: int = HEALTH_CHECK_INTERVAL,
    retries: int = RETRIES,
) -> AsyncRedisClient:
    """An asyncio client; connections open lazily, so this never touches the network.

    In cluster mode ``cluster_nodes`` (``"host:port"``) are the startup nodes,
    or ``host``/``port`` when it is empty. Standalone clients wait up to
    ``socket_timeout`` for a free connection when all ``max_connections`` are busy.
    """
    options = _connection_options(
        password=password,
        socket_timeout=socket_timeout,
        decode_responses=decode_responses,
        health_check_interval=health_check_interval,
        retry=AsyncRetry(EqualJitterBackoff(base=BACKOFF_BASE, cap=BACKOFF_CAP), retries),
    )
    if cluster_mode:
        _check_cluster_db(db)
        nodes = [AsyncClusterNode(h, p) for h, p in _cluster_nodes(host, port, cluster_nodes)]
        return AsyncRedisCluster(startup_nodes=nodes, max_connections=max_connections, **options)
    pool = redis.asyncio.BlockingConnectionPool(
        **_pool_options(host, port, db, max_connections, socket_timeout), **options
    )
    client: redis.asyncio.Redis = redis.asyncio.Redis.from_pool(pool)  # type: ignore[type-arg, attr-defined, unused-ignore]
    return client


def create_sync_redis(
    *,
    host: str,
    port: int,
    db: int = 0,
    password: str | None = None,
    max_connections: int = 50,
    cluster_mode: bool = False,
    cluster_nodes: list[str] | None = None,
    socket_timeout: float = 5.0,
    decode_responses: bool = False,
    health_check_interval: int = HEALTH_CHECK_INTERVAL,
    retries: int = RETRIES,
) -> SyncRedisClient:
    """A blocking client for Celery-side code; same options as ``create_redis``.

    A sync ``RedisCluster`` reads the cluster's topology when constructed, so
    in cluster mode the nodes must be reachable.
    """
    options = _connection_options(
        password=password,
        socket_timeout=socket_timeout,
        decode_responses=decode_responses,
        health_check_interval=health_check_interval,
        retry=Retry(EqualJitterBackoff(base=BACKOFF_BASE, cap=BACKOFF_CAP), retries),
    )
    if cluster_mode:
        _check_cluster_db(db)
        nodes = [
            ClusterNode(h, p)  # type: ignore[no-untyped-call, unused-ignore]
            for h, p in _cluster_nodes(host, port, cluster_nodes)
        ]
        return RedisCluster(startup_nodes=nodes, max_connections=max_connections, **options)
    pool = redis.BlockingConnectionPool(  # type: ignore[no-untyped-call, unused-ignore]
        **_pool_options(host, port, db, max_connections, socket_timeout), **options
    )
    client: redis.Redis = redis.Redis.from_pool(pool)  # type: ignore[type-arg, attr-defined, unused-ignore]
    return client


class _Options(TypedDict):
    host: str
    port: int
    db: int
    password: str | None
    max_connections: int
    cluster_mode: bool
    cluster_nodes: list[str] | None


def _settings_options(settings: Settings) -> _Options:
    password = settings.redis_password
    return {
        "host": settings.redis_host,
        "port": settings.redis_port,
        "db": settings.redis_db,
        "password": password.get_secret_value() if password is not None else None,
        "max_connections": settings.redis_max_connections,
        "cluster_mode": settings.redis_cluster_mode,
        "cluster_nodes": list(settings.redis_cluster_nodes) or None,
    }


def create_redis_from_settings(
    settings: Settings, *, decode_responses: bool = False, retries: int = RETRIES
) -> AsyncRedisClient:
    """``create_redis`` with the ``ALGOTRADE_REDIS_*`` settings."""
    return create_redis(
        **_settings_options(settings), decode_responses=decode_responses, retries=retries
    )


def create_sync_redis_from_settings(
    settings: Settings, *, decode_responses: bool = False
) -> SyncRedisClient:
    """``create_sync_redis`` with the ``ALGOTRADE_REDIS_*`` settings."""
    return create_sync_redis(**_settings_options(settings), decode_responses=decode_responses)
