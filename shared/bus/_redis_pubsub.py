"""Pub/sub for the Redis event bus: one shared connection, a reader that reconnects.

Also the small helpers the stream side shares: back-off with outage logging,
the transient error types, text from redis-py's bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.bus.base import Subscription
from shared.bus.codec import MessageDecodeError, decode

log = logging.getLogger("shared.bus.redis")

# Errors of a lost or slow connection: retried, never raised to bus callers on reads.
TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)


def as_str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def why(exc: BaseException) -> str:
    # redis-py's repr() of its errors omits the message.
    return f"{type(exc).__name__}: {exc}"


class Backoff:
    """Exponential back-off with jitter, and logging that says once that an outage began."""

    def __init__(self, what: str, base: float, cap: float) -> None:
        self.what, self.base, self.cap = what, base, cap
        self.failures = 0

    def failed(self, exc: BaseException) -> float:
        self.failures += 1
        level = logging.WARNING if self.failures == 1 else logging.DEBUG
        log.log(level, "redis %s failed (attempt %d): %s", self.what, self.failures, why(exc))
        delay = min(self.cap, self.base * 2.0 ** (self.failures - 1))
        return delay / 2 + random.uniform(0, delay / 2)

    def succeeded(self) -> None:
        if self.failures:
            log.info("redis %s recovered after %d failed attempts", self.what, self.failures)
            self.failures = 0


class PubSubHub:
    """One pub/sub connection for all subscriptions of a bus, with a reader that reconnects."""

    def __init__(self, client: Any, backoff: Backoff, confirm_timeout: float) -> None:
        self._client = client
        self._backoff = backoff
        self._confirm_timeout = confirm_timeout
        self._pubsub: Any = None  # redis.asyncio PubSub (typed Any: see RedisEventBus.__init__)
        self._channels: dict[str, list[Subscription]] = {}
        self._patterns: dict[str, list[Subscription]] = {}
        self._confirms: dict[tuple[str, str], list[asyncio.Future[None]]] = {}
        self._lock = asyncio.Lock()  # orders (re)connecting against (un)subscribing
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.undecodable = 0

    async def add(self, sub: Subscription) -> None:
        if self._closing:
            raise RuntimeError("event bus is closed")
        async with self._lock:
            new_channels = _register(self._channels, sub.channels, sub)
            new_patterns = _register(self._patterns, sub.patterns, sub)
            keys = [("subscribe", c) for c in new_channels]
            keys += [("psubscribe", p) for p in new_patterns]
            waits = [self._expect(key) for key in keys]
            if self._pubsub is not None:
                try:
                    if new_channels:
                        await self._pubsub.subscribe(*new_channels)
                    if new_patterns:
                        await self._pubsub.psubscribe(*new_patterns)
                except TRANSIENT as exc:  # the reader re-subscribes everything on reconnect
                    log.warning("redis subscribe deferred until reconnect: %s", why(exc))
        self._start()
        self._wakeup.set()
        if not waits:
            return
        try:
            async with asyncio.timeout(self._confirm_timeout):
                await asyncio.gather(*waits)
        except TimeoutError:
            log.warning(
                "redis subscription not confirmed within %.1fs; it will be "
                "active once Redis is reachable",
                self._confirm_timeout,
            )
            for key, fut in zip(keys, waits, strict=True):
                pending = self._confirms.get(key, [])
                if fut in pending:
                    pending.remove(fut)
                if not pending:
                    self._confirms.pop(key, None)

    async def remove(self, sub: Subscription) -> None:
        async with self._lock:
            gone_channels = _unregister(self._channels, sub.channels, sub)
            gone_patterns = _unregister(self._patterns, sub.patterns, sub)
            if self._pubsub is None or self._closing:
                return
            try:
                if gone_channels:
                    await self._pubsub.unsubscribe(*gone_channels)
                if gone_patterns:
                    await self._pubsub.punsubscribe(*gone_patterns)
            except TRANSIENT as exc:
                log.debug("redis unsubscribe skipped: %s", why(exc))

    def _expect(self, key: tuple[str, str]) -> asyncio.Future[None]:
        """A future set when Redis confirms ``key`` = (``"subscribe"``|``"psubscribe"``, name)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirms.setdefault(key, []).append(fut)
        return fut

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="redis-bus-pubsub")

    async def _run(self) -> None:
        while True:
            if not self._channels and not self._patterns:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            try:
                if self._pubsub is None:
                    await self._connect()
                assert self._pubsub is not None
                raw = await self._pubsub.get_message(timeout=1.0)
                self._backoff.succeeded()
                if raw is not None:
                    self._dispatch(raw)
            except TRANSIENT as exc:
                await self._disconnect()
                await asyncio.sleep(self._backoff.failed(exc))
            except Exception:
                log.exception("redis pub/sub reader error; reconnecting")
                await self._disconnect()
                await asyncio.sleep(self._backoff.failed(RuntimeError("reader error")))

    async def _connect(self) -> None:
        async with self._lock:
            pubsub = await self._new_pubsub()
            try:
                if self._channels:
                    await pubsub.subscribe(*self._channels)
                if self._patterns:
                    await pubsub.psubscribe(*self._patterns)
            except BaseException:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                raise
            self._pubsub = pubsub

    async def _new_pubsub(self) -> Any:
        client = self._client
        if isinstance(client, RedisCluster):
            # Cluster pub/sub is broadcast, so any one node hears every channel; a new
            # node is picked at each reconnect, in case the old one is the one that died.
            cluster: Any = client
            await cluster.initialize()
            return cluster.pubsub(node=random.choice(cluster.get_nodes()))
        return client.pubsub()

    async def _disconnect(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    def _dispatch(self, raw: dict[str, Any]) -> None:
        kind = raw["type"]
        if kind in ("message", "pmessage"):
            channel = as_str(raw["channel"])
            subs = (
                self._channels.get(channel)
                if kind == "message"
                else self._patterns.get(as_str(raw["pattern"]))
            )
            if not subs:
                return
            try:
                message = decode(raw["data"])
            except MessageDecodeError as exc:
                self.undecodable += 1
                log.error("dropping undecodable message on channel %s: %s", channel, exc)
                return
            for sub in subs:
                sub.offer(channel, message)
        elif kind in ("subscribe", "psubscribe"):
            for fut in self._confirms.pop((kind, as_str(raw["channel"])), ()):
                if not fut.done():
                    fut.set_result(None)

    async def close(self) -> None:
        self._closing = True  # the connection goes away: no need to unsubscribe one by one
        subs = {s for group in (*self._channels.values(), *self._patterns.values()) for s in group}
        for sub in subs:
            await sub.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._disconnect()


def _register(
    index: dict[str, list[Subscription]], names: Sequence[str], sub: Subscription
) -> list[str]:
    """Add ``sub`` under ``names``; returns the names nobody listened to before."""
    new = [name for name in names if name not in index]
    for name in names:
        index.setdefault(name, []).append(sub)
    return new


def _unregister(
    index: dict[str, list[Subscription]], names: Sequence[str], sub: Subscription
) -> list[str]:
    """Remove ``sub`` from ``names``; returns the names nobody listens to any more."""
    gone: list[str] = []
    for name in names:
        subs = index.get(name, [])
        if sub in subs:
            subs.remove(sub)
        if not subs and index.pop(name, None) is not None:
            gone.append(name)
    return gone
