"""Redis client factory: standalone and cluster, async and sync, riding out short outages."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from shared.config import Settings
from shared.redis_client import (
    create_redis,
    create_redis_from_settings,
    create_sync_redis,
    parse_nodes,
)
from tests.servers import RedisServer
from tests.shared.test_bus import run_redis_cluster


@pytest.fixture
def key() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def own_redis(redis_server: RedisServer) -> Iterator[RedisServer]:
    """A Redis of this module's own, free to stop and start."""
    server = RedisServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def redis_cluster(redis_server: RedisServer) -> Iterator[list[RedisServer]]:
    yield from run_redis_cluster()


# -- construction, no server needed -------------------------------------------------------


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        (["10.0.0.1:7000"], [("10.0.0.1", 7000)]),
        ([" redis-a:7001 ", "redis-b"], [("redis-a", 7001), ("redis-b", 6379)]),
        (["[::1]:7002", "::1"], [("::1", 7002), ("::1", 6379)]),
    ],
)
def test_parse_nodes_reads_host_and_port_with_a_default_port(nodes, expected):
    assert parse_nodes(nodes) == expected


async def test_cluster_mode_starts_from_the_given_nodes():
    client = create_redis(
        host="ignored",
        port=1,
        cluster_mode=True,
        cluster_nodes=["10.0.0.1:7000", "10.0.0.2:7001"],
    )
    assert isinstance(client, AsyncRedisCluster)
    assert sorted(client.nodes_manager.startup_nodes) == ["10.0.0.1:7000", "10.0.0.2:7001"]
    await client.aclose()


async def test_cluster_mode_without_nodes_starts_from_host_and_port():
    client = create_redis(host="10.0.0.9", port=7005, cluster_mode=True)
    assert sorted(client.nodes_manager.startup_nodes) == ["10.0.0.9:7005"]
    await client.aclose()


@pytest.mark.parametrize("factory", [create_redis, create_sync_redis])
def test_cluster_mode_refuses_a_database_other_than_zero(factory):
    with pytest.raises(ValueError, match="database 0"):
        factory(host="h", port=1, db=2, cluster_mode=True)


# -- against a real server ----------------------------------------------------------------


@pytest.mark.service
async def test_standalone_client_stores_and_reads_bytes(redis_server, key):
    client = create_redis(host=redis_server.host, port=redis_server.port)
    await client.set(key, "v", ex=60)
    assert await client.get(key) == b"v"
    await client.aclose()


@pytest.mark.service
async def test_decode_responses_returns_text(redis_server, key):
    client = create_redis(host=redis_server.host, port=redis_server.port, decode_responses=True)
    await client.set(key, "v", ex=60)
    assert await client.get(key) == "v"
    await client.aclose()


@pytest.mark.service
async def test_db_selects_a_separate_keyspace(redis_server, key):
    one = create_redis(host=redis_server.host, port=redis_server.port, db=1)
    zero = create_redis(host=redis_server.host, port=redis_server.port, db=0)
    await one.set(key, "v", ex=60)
    assert await zero.get(key) is None
    assert await one.get(key) == b"v"
    await one.aclose()
    await zero.aclose()


@pytest.mark.service
async def test_busy_pool_makes_callers_wait_for_a_connection_instead_of_failing(redis_server, key):
    client = create_redis(host=redis_server.host, port=redis_server.port, max_connections=2)
    started = time.monotonic()
    results = await asyncio.gather(*(client.blpop([key], timeout=0.2) for _ in range(5)))
    assert results == [None] * 5
    assert time.monotonic() - started >= 0.5  # three waves of at most two
    await client.aclose()


@pytest.mark.service
async def test_command_sent_during_a_short_outage_succeeds_once_redis_is_back(own_redis, key):
    client = create_redis(host=own_redis.host, port=own_redis.port)
    await client.ping()
    await asyncio.to_thread(own_redis.stop)
    try:
        command = asyncio.create_task(client.set(key, "v"))
        await asyncio.sleep(0.2)
    finally:
        await asyncio.to_thread(own_redis.start)
    assert await asyncio.wait_for(command, 10) is True
    assert await client.get(key) == b"v"
    await client.aclose()


@pytest.mark.service
def test_sync_client_stores_and_reads(redis_server, key):
    client = create_sync_redis(host=redis_server.host, port=redis_server.port)
    client.set(key, "v", ex=60)
    assert client.get(key) == b"v"
    client.close()


@pytest.mark.service
async def test_settings_choose_host_port_and_password(redis_server, key):
    settings = Settings(
        _env_file=None,
        redis_host=redis_server.host,
        redis_port=redis_server.port,
        redis_db=3,
        redis_password=SecretStr("not-required"),
    )
    client = create_redis_from_settings(settings)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["port"], kwargs["db"], kwargs["password"]) == (
        redis_server.port,
        3,
        "not-required",
    )
    await client.aclose()


@pytest.mark.service
async def test_async_cluster_client_reaches_keys_on_every_node(redis_cluster):
    first = redis_cluster[0]
    client = create_redis(host=first.host, port=first.port, cluster_mode=True)
    keys = [f"k{n}" for n in range(30)]  # spread over the slots of all three nodes
    for k in keys:
        await client.set(k, k)
    assert [await client.get(k) for k in keys] == [k.encode() for k in keys]
    assert len({client.get_node_from_key(k).name for k in keys}) == 3
    await client.aclose()


@pytest.mark.service
def test_sync_cluster_client_reaches_keys_on_every_node(redis_cluster):
    nodes = [f"{n.host}:{n.port}" for n in redis_cluster]
    client = create_sync_redis(host="unused", port=1, cluster_mode=True, cluster_nodes=nodes)
    assert isinstance(client, RedisCluster)
    keys = [f"s{n}" for n in range(30)]
    for k in keys:
        client.set(k, k)
    assert [client.get(k) for k in keys] == [k.encode() for k in keys]
    client.close()
