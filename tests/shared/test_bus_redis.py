"""Redis event bus under failure: outages, lost groups, bad payloads, a killed consumer."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.bus import BusUnavailable
from shared.bus.redis import RedisEventBus
from shared.redis_client import create_redis
from tests.servers import RedisServer
from tests.shared.test_bus import intent, tick

pytestmark = pytest.mark.service

ROOT = Path(__file__).resolve().parents[2]

# Applies an intent's effect at most once: the set is the idempotency record, the list
# the effect. One script, so the two change together, as a database transaction would.
APPLY_ONCE = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then redis.call('RPUSH', KEYS[2], ARGV[1]) end
"""

# A consumer that processes in batches of 10 and acks after each batch. In batch
# ``hang_after`` it applies five effects, raises a flag and hangs, to be SIGKILLed there.
WORKER = f"""
import asyncio, sys
from shared.bus.redis import RedisEventBus
from shared.redis_client import create_redis

async def main(port, stream, prefix, hang_after):
    client = create_redis(host="127.0.0.1", port=port)
    bus = RedisEventBus(client, owns_client=True)
    batch = 0
    while True:
        entries = await bus.read_group(stream, "g", "a", count=10, block_ms=500)
        for i, entry in enumerate(entries):
            await client.eval({APPLY_ONCE!r}, 2, prefix + ":done", prefix + ":applied",
                              entry.message.client_order_id)
            await asyncio.sleep(0.002)
            if batch == hang_after and i == 4:
                await client.set(prefix + ":hung", 1)
                await asyncio.sleep(3600)
        await bus.ack(stream, "g", [e.id for e in entries])
        batch += 1 if entries else 0

asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])))
"""


@pytest.fixture(scope="module")
def own_redis(redis_server: RedisServer) -> Iterator[RedisServer]:
    """A Redis of this module's own (with an append-only file), free to stop and restart."""
    server = RedisServer(appendonly=True)
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
async def own_bus(own_redis: RedisServer) -> AsyncIterator[RedisEventBus]:
    if not own_redis.is_running:
        own_redis.start()
    client = create_redis(host=own_redis.host, port=own_redis.port, retries=1)
    bus = RedisEventBus(client, owns_client=True, backoff_cap=0.2, write_deadline=10.0)
    yield bus
    await bus.close()


@pytest.fixture
def name() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


async def outage(server: RedisServer, seconds: float = 0.6) -> None:
    """Redis down for longer than the client's own retries cover, then back with its data."""
    await asyncio.to_thread(server.stop)
    await asyncio.sleep(seconds)
    await asyncio.to_thread(server.start)


async def publish_until_received(bus: RedisEventBus, channel: str, sub, within: float = 15.0):
    deadline = time.monotonic() + within
    n = 0
    while time.monotonic() < deadline:
        await bus.publish(channel, tick(n))
        if (got := await sub.get(wait=0.1)) is not None:
            return got
        n += 1
    raise AssertionError("no message arrived after the restart")


async def test_subscription_receives_again_after_a_redis_outage(own_bus, own_redis, name):
    sub = await own_bus.subscribe([name])
    await own_bus.publish(name, tick(0))
    assert await sub.get(wait=5) == (name, tick(0))
    await outage(own_redis)
    channel, _ = await publish_until_received(own_bus, name, sub)
    assert channel == name


async def test_pattern_subscription_receives_again_after_a_redis_outage(own_bus, own_redis, name):
    sub = await own_bus.subscribe([], patterns=[f"{name}:*"])
    await outage(own_redis)
    channel, _ = await publish_until_received(own_bus, f"{name}:x", sub)
    assert channel == f"{name}:x"


async def test_publish_many_reloads_its_script_after_redis_forgot_it(own_bus, own_redis, name):
    sub = await own_bus.subscribe([], patterns=[f"{name}:*"])
    await own_bus.publish_many([(f"{name}:a", tick(0))])
    assert await sub.get(wait=5) == (f"{name}:a", tick(0))
    await outage(own_redis)  # a restarted Redis has no scripts cached
    await publish_until_received(own_bus, f"{name}:warm", sub)  # the subscription is back

    await own_bus.publish_many([(f"{name}:b", tick(n)) for n in range(3)])

    burst = []
    while len(burst) < 3 and (got := await sub.get(wait=5)) is not None:
        if got[0] == f"{name}:b":  # a late warm-up message may come first
            burst.append(got[1])
    assert burst == [tick(0), tick(1), tick(2)]
    assert own_bus.publish_failures == 0


async def test_publish_many_of_a_big_burst_arrives_whole_and_in_order(own_bus, name):
    sub = await own_bus.subscribe([], patterns=[f"{name}:*"], maxsize=10_000)
    items = [(f"{name}:{n % 7}", tick(n)) for n in range(2_500)]  # three script calls

    await own_bus.publish_many(items)

    got = [await sub.get(wait=5) for _ in range(len(items))]
    assert got == items


async def test_subscribing_while_redis_is_down_takes_effect_when_it_returns(own_redis, name):
    client = create_redis(host=own_redis.host, port=own_redis.port, retries=0)
    bus = RedisEventBus(client, owns_client=True, backoff_cap=0.2, confirm_timeout=0.3)
    try:
        await asyncio.to_thread(own_redis.stop)
        sub = await bus.subscribe([name])
        await asyncio.to_thread(own_redis.start)
        channel, _ = await publish_until_received(bus, name, sub)
        assert channel == name
    finally:
        await bus.close()


async def test_stream_consumer_loop_rides_out_a_redis_outage(own_bus, own_redis, name):
    await own_bus.ensure_group(name, "g")
    got = []

    async def consume() -> None:  # a consumer loop with no error handling of its own
        while len(got) < 2:
            entries = await own_bus.read_group(name, "g", "c", block_ms=100)
            got.extend(e.message for e in entries)
            await own_bus.ack(name, "g", [e.id for e in entries])

    consumer = asyncio.create_task(consume())
    await own_bus.append(name, intent(1))
    await outage(own_redis)
    await own_bus.append(name, intent(2))
    await asyncio.wait_for(consumer, 15)
    assert got == [intent(1), intent(2)]


async def test_pending_entries_survive_a_restart_and_can_be_claimed(own_bus, own_redis, name):
    await own_bus.ensure_group(name, "g")
    entry_id = await own_bus.append(name, intent(1))
    await own_bus.read_group(name, "g", "dead", block_ms=0)
    await asyncio.to_thread(own_redis.restart)
    await asyncio.sleep(0.05)
    claimed = await own_bus.claim_stale(name, "g", "alive", min_idle_ms=0)
    assert [e.id for e in claimed] == [entry_id]


async def test_reads_while_redis_is_down_return_nothing_instead_of_raising(
    own_bus, own_redis, name
):
    await own_bus.ensure_group(name, "g")
    await asyncio.to_thread(own_redis.stop)
    try:
        assert await own_bus.read_group(name, "g", "c", block_ms=100) == []
        assert await own_bus.claim_stale(name, "g", "c", min_idle_ms=0) == []
        await own_bus.publish(name, tick(1))
        assert await own_bus.ping() is False
    finally:
        await asyncio.to_thread(own_redis.start)
    assert own_bus.publish_failures == 1


async def test_append_raises_bus_unavailable_when_redis_stays_down(own_redis, name):
    client = create_redis(host=own_redis.host, port=own_redis.port, retries=0)
    bus = RedisEventBus(client, owns_client=True, write_deadline=0.5, backoff_cap=0.1)
    await asyncio.to_thread(own_redis.stop)
    try:
        with pytest.raises(BusUnavailable):
            await bus.append(name, intent(1))
    finally:
        await asyncio.to_thread(own_redis.start)
        await bus.close()


async def test_group_lost_by_redis_is_recreated_and_reading_goes_on(own_bus, name):
    await own_bus.ensure_group(name, "g")
    await own_bus.client.delete(name)  # what a restart without persistence does
    assert await own_bus.read_group(name, "g", "c", block_ms=0) == []
    await own_bus.append(name, intent(1))
    assert [e.message for e in await own_bus.read_group(name, "g", "c", block_ms=0)] == [intent(1)]


async def test_undecodable_stream_entry_is_acked_and_skipped(own_bus, name):
    await own_bus.ensure_group(name, "g")
    await own_bus.client.xadd(name, {b"m": b'{"kind": "from_the_future"}'})
    await own_bus.append(name, intent(1))
    entries = await own_bus.read_group(name, "g", "c", block_ms=0)
    assert [e.message for e in entries] == [intent(1)]
    assert await own_bus.pending_count(name, "g") == 1
    assert own_bus.undecodable_entries == 1


async def test_undecodable_pub_sub_message_is_dropped_and_later_ones_arrive(own_bus, name):
    sub = await own_bus.subscribe([name])
    await own_bus.client.publish(name, b"garbage")
    await own_bus.publish(name, tick(1))
    assert await sub.get(wait=5) == (name, tick(1))
    assert own_bus.undecodable_messages == 1


async def test_entries_of_a_killed_consumer_are_applied_once_none_lost(redis_server, name):
    client = create_redis(host=redis_server.host, port=redis_server.port)
    bus = RedisEventBus(client, owns_client=True)
    total, hang_after, batch = 200, 5, 10
    await bus.ensure_group(name, "g")
    for n in range(total):
        await bus.append(name, intent(n))
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(redis_server.port), name, name, str(hang_after)],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while not await client.exists(f"{name}:hung"):
            assert worker.poll() is None, "worker exited"
            assert time.monotonic() < deadline, "worker never reached its hang point"
            await asyncio.sleep(0.02)
    finally:
        worker.kill()  # SIGKILL
        worker.wait()
    pending_at_kill = await bus.pending_count(name, "g")

    attempts = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        entries = await bus.claim_stale(name, "g", "b", min_idle_ms=200)
        entries += await bus.read_group(name, "g", "b", count=50, block_ms=50)
        for entry in entries:
            await client.eval(
                APPLY_ONCE, 2, f"{name}:done", f"{name}:applied", entry.message.client_order_id
            )
        attempts += len(entries)
        await bus.ack(name, "g", [e.id for e in entries])
        if await bus.pending_count(name, "g") == 0 and attempts >= total - hang_after * batch:
            break
    applied = [x.decode() for x in await client.lrange(f"{name}:applied", 0, -1)]
    await client.delete(name, f"{name}:done", f"{name}:applied", f"{name}:hung")
    await bus.close()

    assert pending_at_kill == batch
    assert attempts == total - hang_after * batch  # the half-applied batch came back whole
    assert sorted(applied) == sorted(f"c-{n}" for n in range(total))  # none lost, none twice
