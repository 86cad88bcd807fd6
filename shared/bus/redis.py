"""The event bus on Redis (distributed profile): Streams with consumer groups, and pub/sub.

Works with ``redis.asyncio.Redis`` and ``redis.asyncio.cluster.RedisCluster``
(stream commands touch one key each; pub/sub uses one node, since cluster
pub/sub is broadcast to every node). Survives Redis restarts without the
caller handling errors: reads log, back off and return ``[]``; the pub/sub
reader reconnects and re-subscribes; writes retry until a deadline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from shared.bus._redis_pubsub import TRANSIENT, Backoff, PubSubHub, as_str, why
from shared.bus.base import (
    DEFAULT_SUBSCRIPTION_MAXSIZE,
    FORGET_CONSUMERS_AFTER_S,
    BusUnavailable,
    NoGroup,
    StreamEntry,
    Subscription,
)
from shared.bus.codec import MessageDecodeError, decode, encode
from shared.contracts import Message
from shared.redis_client import AsyncRedisClient

__all__ = ["RedisEventBus"]

log = logging.getLogger(__name__)

T = TypeVar("T")
FIELD = b"m"  # the one field of a stream entry: the encoded message
PUBLISH_CHUNK = 1000  # messages per PUBLISH script call (bounds how long one call holds Redis)
_PUBLISH_MANY = """
for i = 1, #ARGV, 2 do
  redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
return #ARGV / 2
"""
# KEYS[1] stream; ARGV group, min idle ms, the calling consumer. XINFO CONSUMERS and the
# deletes run as one script, so a consumer cannot take an entry between check and delete
# (XGROUP DELCONSUMER drops the pending entries of the consumer it deletes).
_FORGET_IDLE_CONSUMERS = """
local removed = {}
local min_idle = tonumber(ARGV[2])
for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local fields = {}
  for i = 1, #info, 2 do
    fields[info[i]] = info[i + 1]
  end
  local name = fields['name']
  if name ~= ARGV[3] and fields['pending'] == 0 and fields['idle'] >= min_idle then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    removed[#removed + 1] = name
  end
end
return removed
"""


class RedisEventBus:
    """``EventBus`` on a Redis client created with ``decode_responses=False``."""

    def __init__(
        self,
        client: AsyncRedisClient,
        *,
        owns_client: bool = False,
        write_deadline: float = 15.0,
        backoff_base: float = 0.05,
        backoff_cap: float = 2.0,
        confirm_timeout: float = 5.0,
        forget_consumers_after_s: float = FORGET_CONSUMERS_AFTER_S,
    ) -> None:
        self.forget_consumers_after_s = forget_consumers_after_s
        self._public_client = client
        # Commands go through an untyped handle: redis-py's own types and the older
        # types-redis stubs disagree on most signatures (and on RedisCluster's commands).
        self._client: Any = client
        self._owns_client = owns_client
        self._write_deadline = write_deadline
        self._read_backoff = Backoff("stream read", backoff_base, backoff_cap)
        self._write_backoff = (backoff_base, backoff_cap)
        self._hub = PubSubHub(
            client, Backoff("pub/sub", backoff_base, backoff_cap), confirm_timeout
        )
        self._groups: dict[tuple[str, str], str] = {}  # ensured groups -> start id
        # Cluster pub/sub publishes one message at a time (see publish_many).
        cluster = isinstance(client, RedisCluster)
        self._publish_script = None if cluster else self._client.register_script(_PUBLISH_MANY)
        self._forget_script = self._client.register_script(_FORGET_IDLE_CONSUMERS)
        self.publish_failures = 0
        self.undecodable_entries = 0

    @property
    def client(self) -> AsyncRedisClient:
        return self._public_client

    @property
    def undecodable_messages(self) -> int:
        """Pub/sub messages dropped because they could not be decoded."""
        return self._hub.undecodable

    # -- pub/sub ---------------------------------------------------------------------------

    async def publish(self, channel: str, message: Message) -> None:
        """PUBLISH; a lost connection drops the message (at-most-once) and is logged."""
        try:
            await self._client.publish(channel, encode(message))
        except TRANSIENT as exc:
            self._publish_failed(1, exc)

    async def publish_many(self, items: Sequence[tuple[str, Message]]) -> None:
        """PUBLISH each (channel, message) in order, a script call per chunk (standalone Redis)."""
        if not items:
            return
        if self._publish_script is None:
            # Cluster pipelines route by key and PUBLISH has none: one at a time, in order.
            for channel, message in items:
                await self.publish(channel, message)
            return
        # One script call per chunk PUBLISHes the chunk server-side: a burst of thousands of
        # candle events costs a few round trips instead of a pipelined command and reply
        # per message (measured about 20 us each on the client).
        for at in range(0, len(items), PUBLISH_CHUNK):
            chunk = items[at : at + PUBLISH_CHUNK]
            args: list[str | bytes] = []
            for channel, message in chunk:
                args += (channel, encode(message))
            try:
                await self._publish_script(keys=[], args=args)
            except TRANSIENT as exc:
                self._publish_failed(len(items) - at, exc)
                return

    def _publish_failed(self, dropped: int, exc: BaseException) -> None:
        before, self.publish_failures = self.publish_failures, self.publish_failures + dropped
        # One warning per thousand dropped, so an outage does not flood the log.
        crossed = before == 0 or before // 1000 != self.publish_failures // 1000
        level = logging.WARNING if crossed else logging.DEBUG
        log.log(
            level,
            "redis publish dropped %d message(s) (%d so far): %s",
            dropped,
            self.publish_failures,
            why(exc),
        )

    async def subscribe(
        self,
        channels: Sequence[str],
        patterns: Sequence[str] = (),
        *,
        maxsize: int = DEFAULT_SUBSCRIPTION_MAXSIZE,
    ) -> Subscription:
        """SUBSCRIBE/PSUBSCRIBE on the bus's shared pub/sub connection."""
        sub = Subscription(channels, patterns, maxsize=maxsize, on_close=self._hub.remove)
        await self._hub.add(sub)
        return sub

    # -- streams ---------------------------------------------------------------------------

    async def append(self, stream: str, message: Message, maxlen: int | None = None) -> str:
        """XADD (``MAXLEN ~``); retried until the write deadline, then ``BusUnavailable``.

        A retry after a lost reply can add the entry twice: consumers dedupe by
        the message's idempotency key.
        """
        data = encode(message)
        entry_id = await self._write(
            "XADD",
            lambda: self._client.xadd(stream, {FIELD: data}, maxlen=maxlen, approximate=True),
        )
        return as_str(entry_id)

    async def append_many(
        self, stream: str, messages: Sequence[Message], maxlen: int | None = None
    ) -> list[str]:
        """XADD each message in one pipelined round trip; retried like ``append``."""
        if not messages:
            return []
        payloads = [encode(m) for m in messages]

        async def xadd_all() -> list[Any]:
            async with self._client.pipeline(transaction=False) as pipe:
                for data in payloads:
                    pipe.xadd(stream, {FIELD: data}, maxlen=maxlen, approximate=True)
                return list(await pipe.execute())

        return [as_str(i) for i in await self._write("XADD", xadd_all)]

    async def ensure_group(self, stream: str, group: str, start_id: str = "0") -> None:
        """XGROUP CREATE ... MKSTREAM, ignoring BUSYGROUP."""
        await self._write("XGROUP CREATE", lambda: self._create_group(stream, group, start_id))
        self._groups[(stream, group)] = start_id

    async def _create_group(self, stream: str, group: str, start_id: str) -> None:
        try:
            await self._client.xgroup_create(stream, group, id=start_id, mkstream=True)
        except ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise

    async def read_group(
        self,
        stream: str,
        group: str,
        consumer: str,
        count: int = 100,
        block_ms: int = 1000,
    ) -> list[StreamEntry]:
        """XREADGROUP ``>``; keep ``block_ms`` below the client's socket timeout."""
        try:
            reply = await self._client.xreadgroup(
                group,
                consumer,
                {stream: ">"},
                count=count,
                block=block_ms if block_ms > 0 else None,
            )
        except ResponseError as exc:
            await self._on_missing_group(exc, stream, group)
            return []
        except TRANSIENT as exc:
            await asyncio.sleep(self._read_backoff.failed(exc))
            return []
        self._read_backoff.succeeded()
        return await self._entries(stream, group, _stream_entries(reply))

    async def ack(self, stream: str, group: str, ids: Sequence[str]) -> int:
        """XACK; if Redis stays away past the deadline the entries stay pending (logged)."""
        if not ids:
            return 0
        try:
            return int(await self._write("XACK", lambda: self._client.xack(stream, group, *ids)))
        except BusUnavailable as exc:
            log.error(
                "ack of %d entries on %s/%s failed; they will be delivered again: %s",
                len(ids),
                stream,
                group,
                exc,
            )
            return 0

    async def claim_stale(
        self,
        stream: str,
        group: str,
        consumer: str,
        min_idle_ms: int,
        count: int = 100,
    ) -> list[StreamEntry]:
        """XAUTOCLAIM over the whole pending list, up to ``count`` entries; then drop the
        consumers idle ``forget_consumers_after_s`` with nothing pending (one script: checked
        and deleted atomically, so no entry a consumer takes meanwhile is lost with it)."""
        claimed: list[tuple[bytes, dict[bytes, bytes]]] = []
        cursor: bytes | str = "0-0"
        try:
            while len(claimed) < count:
                cursor, entries, deleted = await self._client.xautoclaim(
                    stream, group, consumer, min_idle_ms, cursor, count=count - len(claimed)
                )
                claimed += [e for e in entries if e[1] is not None]
                if deleted:
                    log.warning(
                        "%d pending entries of %s/%s were trimmed before being processed: %s",
                        len(deleted),
                        stream,
                        group,
                        deleted[:10],
                    )
                if as_str(cursor) == "0-0":
                    break
        except ResponseError as exc:
            await self._on_missing_group(exc, stream, group)
            return []
        except TRANSIENT as exc:
            await asyncio.sleep(self._read_backoff.failed(exc))
            return []
        self._read_backoff.succeeded()
        entries = await self._entries(stream, group, claimed)
        forget_ms = max(min_idle_ms, round(self.forget_consumers_after_s * 1000))
        await self._forget_idle_consumers(stream, group, consumer, forget_ms)
        return entries

    async def _forget_idle_consumers(
        self, stream: str, group: str, consumer: str, min_idle_ms: int
    ) -> None:
        try:
            removed = await self._forget_script(keys=[stream], args=[group, min_idle_ms, consumer])
        except (*TRANSIENT, ResponseError) as exc:  # tidying up only: the next claim tries again
            log.debug("removing idle consumers of %s/%s skipped: %s", stream, group, why(exc))
            return
        if removed:
            names = [as_str(name) for name in removed]
            log.info("removed stopped consumers from %s/%s: %s", stream, group, ", ".join(names))

    async def consumers(self, stream: str, group: str) -> dict[str, int]:
        """XINFO CONSUMERS: name -> pending entries."""
        try:
            rows = await self._client.xinfo_consumers(stream, group)
        except ResponseError as exc:
            if str(exc).startswith("NOGROUP"):
                raise NoGroup(stream, group) from None
            raise
        return {as_str(row["name"]): int(row["pending"]) for row in rows}

    async def pending_count(self, stream: str, group: str) -> int:
        """XPENDING summary count."""
        try:
            summary = await self._write("XPENDING", lambda: self._client.xpending(stream, group))
        except ResponseError as exc:
            if str(exc).startswith("NOGROUP"):
                raise NoGroup(stream, group) from None
            raise
        return int(summary["pending"])

    async def _entries(
        self, stream: str, group: str, raw: Sequence[tuple[bytes, dict[bytes, bytes]]]
    ) -> list[StreamEntry]:
        entries: list[StreamEntry] = []
        bad: list[str] = []
        for raw_id, fields in raw:
            entry_id = as_str(raw_id)
            try:
                entries.append(StreamEntry(entry_id, decode(fields[FIELD])))
            except (MessageDecodeError, KeyError) as exc:
                # Logged and acked: retrying cannot make it decodable, and it must not
                # block the consumer. A newer producer's kind is lost to this consumer.
                log.error("acking undecodable entry %s on %s/%s: %s", entry_id, stream, group, exc)
                bad.append(entry_id)
        if bad:
            self.undecodable_entries += len(bad)
            await self.ack(stream, group, bad)
        return entries

    async def _on_missing_group(self, exc: ResponseError, stream: str, group: str) -> None:
        if not str(exc).startswith("NOGROUP"):
            raise exc
        start_id = self._groups.get((stream, group))
        if start_id is None:
            raise NoGroup(stream, group) from None
        # Redis lost the group (restarted without persistence): recreate and carry on.
        log.warning("consumer group %s/%s is gone from Redis; recreating it", stream, group)
        await self.ensure_group(stream, group, start_id)

    async def _write(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        backoff = Backoff(what, *self._write_backoff)
        deadline = time.monotonic() + self._write_deadline
        while True:
            try:
                result = await op()
            except TRANSIENT as exc:
                delay = backoff.failed(exc)
                if time.monotonic() + delay > deadline:
                    raise BusUnavailable(
                        f"redis {what} failed for {self._write_deadline:.0f}s: {why(exc)}"
                    ) from exc
                await asyncio.sleep(delay)
                continue
            backoff.succeeded()
            return result

    # -- lifecycle -------------------------------------------------------------------------

    async def ping(self) -> bool:
        """PING within two seconds."""
        try:
            async with asyncio.timeout(2.0):
                return bool(await self._client.ping())
        except (*TRANSIENT, TimeoutError):
            return False

    async def close(self) -> None:
        """Close subscriptions and the pub/sub connection; the client too if the bus owns it."""
        await self._hub.close()
        if self._owns_client:
            await self._client.aclose()


def _stream_entries(reply: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Entries of an XREADGROUP reply on one stream (``[[name, entries]]`` or a map)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return list(next(iter(reply.values())))
    return list(reply[0][1])
