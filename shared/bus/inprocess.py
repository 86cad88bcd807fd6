"""The event bus inside one process (embedded profile): same semantics as Redis, no server.

Messages are passed by reference, never encoded: they are frozen, so sharing
them is safe and the embedded critical path pays no serialisation. Streams
keep consumer groups with a pending list and delivery times, so a consumer
that stops acking has its entries claimed by another, as with Redis.
All methods must be called from the event loop the bus is used on.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from shared.bus.base import (
    DEFAULT_SUBSCRIPTION_MAXSIZE,
    FORGET_CONSUMERS_AFTER_S,
    NoGroup,
    StreamEntry,
    Subscription,
)
from shared.contracts import Message

__all__ = ["InProcessEventBus", "glob_to_regex"]


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Redis PSUBSCRIBE glob (``*``, ``?``, ``[abc]``, ``[^a-z]``, ``\\x``)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _matcher(pattern: str) -> Callable[[str], object]:
    """A test for channel names matching ``pattern``; ``prefix*`` globs skip the regex."""
    prefix = pattern[:-1]
    if pattern.endswith("*") and not any(ch in prefix for ch in "*?[\\"):
        return lambda channel: channel.startswith(prefix)
    return glob_to_regex(pattern).fullmatch


@dataclass(slots=True)
class _Pending:
    consumer: str
    message: Message
    delivered_at: float
    deliveries: int = 1


@dataclass(slots=True)
class _Group:
    next_pos: int  # absolute position of the next entry never delivered to this group
    pending: dict[tuple[int, int], _Pending] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)  # consumer -> its last read or claim


@dataclass(slots=True)
class _Stream:
    entries: list[tuple[tuple[int, int], Message]] = field(default_factory=list)
    trimmed: int = 0  # entries dropped from the front; positions stay absolute
    last_id: tuple[int, int] = (0, 0)
    groups: dict[str, _Group] = field(default_factory=dict)
    appended: asyncio.Event = field(default_factory=asyncio.Event)

    def next_id(self) -> tuple[int, int]:
        ms = time.time_ns() // 1_000_000
        last_ms, last_seq = self.last_id
        self.last_id = (ms, 0) if ms > last_ms else (last_ms, last_seq + 1)
        return self.last_id

    def trim(self, maxlen: int) -> None:
        # Trim in batches (like Redis MAXLEN ~): at least maxlen entries stay.
        excess = len(self.entries) - maxlen
        if excess > max(maxlen // 10, 0):
            del self.entries[:excess]
            self.trimmed += excess

    def position_after(self, entry_id: tuple[int, int]) -> int:
        """Absolute position of the first entry with an id greater than ``entry_id``."""
        lo, hi = 0, len(self.entries)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.entries[mid][0] <= entry_id:
                lo = mid + 1
            else:
                hi = mid
        return self.trimmed + lo


def _fmt(entry_id: tuple[int, int]) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


def _parse(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class InProcessEventBus:
    """``EventBus`` for one process and one event loop."""

    def __init__(self, *, forget_consumers_after_s: float = FORGET_CONSUMERS_AFTER_S) -> None:
        self.forget_consumers_after_s = forget_consumers_after_s
        self._channel_subs: dict[str, list[Subscription]] = {}
        self._pattern_subs: list[tuple[Callable[[str], object], Subscription]] = []
        self._routes: dict[str, list[Subscription]] = {}  # channel -> receivers, cached
        self._subscriptions: set[Subscription] = set()
        self._streams: dict[str, _Stream] = {}
        self._closed = False

    # -- pub/sub ---------------------------------------------------------------------------

    async def publish(self, channel: str, message: Message) -> None:
        """Hand ``message`` to every subscription of ``channel`` now."""
        receivers = self._routes.get(channel)
        if receivers is None:
            receivers = self._route(channel)
        for sub in receivers:
            sub.offer(channel, message)

    async def publish_many(self, items: Sequence[tuple[str, Message]]) -> None:
        """``publish`` each (channel, message) in order.

        Each subscription is handed its share of the items at once (a burst of candle
        events is thousands of items, mostly for one pattern subscription).
        """
        routes = self._routes
        shares: dict[Subscription, list[tuple[str, Message]]] = {}
        for item in items:
            receivers = routes.get(item[0])
            if receivers is None:
                receivers = self._route(item[0])
            for sub in receivers:
                share = shares.get(sub)
                if share is None:
                    shares[sub] = share = []
                share.append(item)
        for sub, share in shares.items():
            sub.offer_many(share)

    def _route(self, channel: str) -> list[Subscription]:
        receivers = list(self._channel_subs.get(channel, ()))
        for matches, sub in self._pattern_subs:
            if matches(channel):
                receivers.append(sub)
        self._routes[channel] = receivers
        return receivers

    async def subscribe(
        self,
        channels: Sequence[str],
        patterns: Sequence[str] = (),
        *,
        maxsize: int = DEFAULT_SUBSCRIPTION_MAXSIZE,
    ) -> Subscription:
        """Receive ``channels`` and channels matching ``patterns`` (Redis glob syntax)."""
        self._check_open()
        sub = Subscription(channels, patterns, maxsize=maxsize, on_close=self._unsubscribe)
        for channel in sub.channels:
            self._channel_subs.setdefault(channel, []).append(sub)
        matchers = [_matcher(p) for p in sub.patterns]
        self._pattern_subs += [(matches, sub) for matches in matchers]
        self._subscriptions.add(sub)
        # Cached routes gain the new subscription in place (rebuilding them all would land
        # on the next publish, e.g. inside a burst of thousands of candle events).
        for channel in sub.channels:
            if (receivers := self._routes.get(channel)) is not None:
                receivers.append(sub)
        if matchers:
            for channel, receivers in self._routes.items():
                receivers += [sub for matches in matchers if matches(channel)]
        return sub

    async def _unsubscribe(self, sub: Subscription) -> None:
        for channel in sub.channels:
            subs = self._channel_subs.get(channel, [])
            if sub in subs:
                subs.remove(sub)
            if not subs:
                self._channel_subs.pop(channel, None)
        self._pattern_subs = [(r, s) for r, s in self._pattern_subs if s is not sub]
        self._subscriptions.discard(sub)
        routed = self._routes.values() if sub.patterns else map(self._routes.get, sub.channels)
        for receivers in routed:
            if receivers is not None and sub in receivers:
                receivers[:] = [s for s in receivers if s is not sub]

    # -- streams ---------------------------------------------------------------------------

    async def append(self, stream: str, message: Message, maxlen: int | None = None) -> str:
        """Add to ``stream``; with ``maxlen``, old entries are trimmed in batches."""
        self._check_open()
        st = self._streams.setdefault(stream, _Stream())
        entry_id = st.next_id()
        st.entries.append((entry_id, message))
        if maxlen is not None:
            st.trim(maxlen)
        st.appended.set()
        st.appended = asyncio.Event()  # readers hold the event that was set; new waiters get this
        return _fmt(entry_id)

    async def append_many(
        self, stream: str, messages: Sequence[Message], maxlen: int | None = None
    ) -> list[str]:
        """``append`` each message in order; returns their ids."""
        return [await self.append(stream, m, maxlen) for m in messages]

    async def ensure_group(self, stream: str, group: str, start_id: str = "0") -> None:
        """Create ``group`` on ``stream`` (creating the stream) unless it exists."""
        self._check_open()
        st = self._streams.setdefault(stream, _Stream())
        if group in st.groups:
            return
        start = (
            st.trimmed + len(st.entries) if start_id == "$" else st.position_after(_parse(start_id))
        )
        st.groups[group] = _Group(next_pos=start)

    async def read_group(
        self,
        stream: str,
        group: str,
        consumer: str,
        count: int = 100,
        block_ms: int = 1000,
    ) -> list[StreamEntry]:
        """Entries never delivered to ``group``, now pending for ``consumer``."""
        st, grp = self._group(stream, group)
        deadline = time.monotonic() + block_ms / 1000
        while True:
            entries = self._deliver(st, grp, consumer, count)
            remaining = deadline - time.monotonic()
            if entries or remaining <= 0 or self._closed:
                return entries
            try:
                async with asyncio.timeout(remaining):
                    await st.appended.wait()
            except TimeoutError:
                return []

    def _deliver(self, st: _Stream, grp: _Group, consumer: str, count: int) -> list[StreamEntry]:
        start = max(grp.next_pos - st.trimmed, 0)
        batch = st.entries[start : start + count]
        now = time.monotonic()
        if batch:  # as in Redis, a consumer exists (and is seen) once it is given entries
            grp.seen[consumer] = now
        for entry_id, message in batch:
            grp.pending[entry_id] = _Pending(consumer, message, now)
        grp.next_pos = st.trimmed + start + len(batch)
        return [StreamEntry(_fmt(entry_id), message) for entry_id, message in batch]

    async def ack(self, stream: str, group: str, ids: Sequence[str]) -> int:
        """Remove ``ids`` from the group's pending list; returns how many were there."""
        st = self._streams.get(stream)
        grp = st.groups.get(group) if st is not None else None
        if grp is None:
            return 0
        return sum(grp.pending.pop(_parse(i), None) is not None for i in ids)

    async def claim_stale(
        self,
        stream: str,
        group: str,
        consumer: str,
        min_idle_ms: int,
        count: int = 100,
    ) -> list[StreamEntry]:
        """Re-assign to ``consumer`` entries idle for ``min_idle_ms`` or more, oldest first;
        then forget consumers idle that long that hold nothing pending."""
        _, grp = self._group(stream, group)
        now = time.monotonic()
        oldest_delivery = now - min_idle_ms / 1000
        claimed: list[StreamEntry] = []
        for entry_id in sorted(grp.pending):
            if len(claimed) >= count:
                break
            p = grp.pending[entry_id]
            if p.delivered_at <= oldest_delivery:
                p.consumer, p.delivered_at, p.deliveries = consumer, now, p.deliveries + 1
                claimed.append(StreamEntry(_fmt(entry_id), p.message))
        if claimed:
            grp.seen[consumer] = now
        forget_before = now - max(self.forget_consumers_after_s, min_idle_ms / 1000)
        holding = {p.consumer for p in grp.pending.values()}
        for name, seen in list(grp.seen.items()):
            if name != consumer and name not in holding and seen <= forget_before:
                del grp.seen[name]
        return claimed

    async def consumers(self, stream: str, group: str) -> dict[str, int]:
        """The group's consumers and how many entries each holds pending."""
        _, grp = self._group(stream, group)
        out = dict.fromkeys(grp.seen, 0)
        for p in grp.pending.values():
            out[p.consumer] = out.get(p.consumer, 0) + 1
        return out

    async def pending_count(self, stream: str, group: str) -> int:
        """Entries delivered to ``group`` and not yet acked."""
        _, grp = self._group(stream, group)
        return len(grp.pending)

    def _group(self, stream: str, group: str) -> tuple[_Stream, _Group]:
        st = self._streams.get(stream)
        grp = st.groups.get(group) if st is not None else None
        if st is None or grp is None:
            raise NoGroup(stream, group)
        return st, grp

    # -- lifecycle -------------------------------------------------------------------------

    async def ping(self) -> bool:
        return not self._closed

    async def close(self) -> None:
        """Close every subscription and wake blocked readers."""
        self._closed = True
        for sub in list(self._subscriptions):
            await sub.close()
        for st in self._streams.values():
            st.appended.set()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("event bus is closed")
