"""A partition taken over: what its last owner reads after the takeover reaches the new
owner within a second or so, not after ``claim_idle_ms``."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from order_processor.config import ProcessorOptions
from order_processor.consumer import IntentConsumer
from shared.bus import InProcessEventBus
from shared.bus.redis import RedisEventBus
from shared.contracts import OrderIntent
from shared.redis_client import create_redis

pytestmark = pytest.mark.service


@pytest.fixture(params=["inprocess", "redis"])
async def bus(request):
    if request.param == "inprocess":
        built = InProcessEventBus()
    else:
        server = request.getfixturevalue("redis_server")
        built = RedisEventBus(create_redis(host=server.host, port=server.port), owns_client=True)
    yield built
    await built.close()


def _intent(n: int) -> OrderIntent:
    return OrderIntent(
        client_order_id=f"k-{n}",
        user_id=1,
        broker_account_id=1,
        symbol="SOLUSDT",
        side="BUY",
        quantity=Decimal(1),
        created_at=datetime.now(UTC),
    )


async def test_entries_the_last_owner_reads_after_a_takeover_are_claimed_at_once(bus):
    stream, group = f"stream:{uuid.uuid4().hex[:8]}", "processors"
    await bus.ensure_group(stream, group)
    handled: list[str] = []

    async def batch(intents):
        handled.extend(i.client_order_id for i in intents)
        return {}

    async def one(intent):
        handled.append(intent.client_order_id)

    for n in range(3):
        await bus.append(stream, _intent(n))
    # The last owner read these and stopped (fenced off, or dead).
    assert len(await bus.read_group(stream, group, "old", count=10, block_ms=0)) == 3
    options = ProcessorOptions(consumer="new", claim_idle_ms=30_000, read_block_ms=20)
    consumer = IntentConsumer(
        _ClaimsOnly(bus),
        one,
        options,
        stream=stream,
        group=group,
        batch_handler=batch,
        take_over=True,
    )
    task = asyncio.ensure_future(consumer.run())
    try:
        await _until(lambda: len(handled) == 3)
        # The last owner, not yet aware that it lost the partition, reads once more.
        for n in range(3, 6):
            await bus.append(stream, _intent(n), None)
        taken = await bus.read_group(stream, group, "old", count=10, block_ms=0)
        t0 = time.monotonic()
        assert len(taken) == 3  # the old owner holds them
        await _until(lambda: len(handled) == 6, timeout=5, what=lambda: handled)

        assert sorted(handled) == [f"k-{n}" for n in range(6)]
        assert time.monotonic() - t0 < 2  # not claim_idle_ms (30 s)
        # Acknowledged once handled (the handler returns before the acknowledgement).
        deadline = time.monotonic() + 5
        while (left := await bus.pending_count(stream, group)) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert left == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class _ClaimsOnly:
    """The bus, except that the new owner's reads find nothing new: the entries reach it only
    by claiming them from the last owner (as when the last owner was faster)."""

    def __init__(self, bus) -> None:
        self._bus = bus

    async def read_group(self, stream, group, consumer, count=10, block_ms=0):
        await asyncio.sleep(block_ms / 1000)
        return []

    def __getattr__(self, name):
        return getattr(self._bus, name)


async def _until(condition, timeout: float = 5, what=None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {what() if what else None}"
        await asyncio.sleep(0.01)
