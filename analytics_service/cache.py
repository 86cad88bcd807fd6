"""Computed reports kept per process, refreshed when the scope's fills or ledger change.

An entry answers a request while the scope's ``Version`` (last fill id, fill count,
last ledger id) is the one it was computed at. A range that reaches the present
also moves with prices, so such an entry is kept only ``live_ttl`` seconds; a
range wholly in the past changes only when history does. Keys start with the
user id, and a scope is looked up (404 if not the user's) before the cache is.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .repositories import Version


@dataclass(frozen=True, slots=True)
class _Entry:
    version: Version
    computed_at: datetime
    live: bool
    value: object


class ReportCache:
    """A bounded least-recently-used map of computed results."""

    def __init__(self, max_entries: int = 1024, live_ttl: float = 15.0) -> None:
        self.max_entries = max_entries
        self.live_ttl = timedelta(seconds=live_ttl)
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, version: Version, now: datetime) -> object | None:
        entry = self._entries.get(key)
        if (
            entry is None
            or entry.version != version
            or (entry.live and now - entry.computed_at > self.live_ttl)
        ):
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.value

    def put(
        self, key: Hashable, version: Version, now: datetime, value: object, *, live: bool
    ) -> None:
        self._entries[key] = _Entry(version, now, live, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
