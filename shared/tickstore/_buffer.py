"""Bounded write buffers: oldest data goes first when full, and every drop is counted."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from shared.contracts import CandleMsg
from shared.tickstore.base import TickColumns

# Per buffered tick: int64 ts + float64 price + float64 qty + one object pointer for the
# symbol (the str objects themselves are shared with the caller and interned by feeds).
BYTES_PER_TICK = 32


def concat(parts: Sequence[TickColumns]) -> TickColumns:
    if len(parts) == 1:
        return parts[0]
    return TickColumns(
        np.concatenate([p.symbol for p in parts]),
        np.concatenate([p.ts_ns for p in parts]),
        np.concatenate([p.price for p in parts]),
        np.concatenate([p.qty for p in parts]),
    )


def _slice(cols: TickColumns, start: int, stop: int | None = None) -> TickColumns:
    sl = slice(start, stop)
    return TickColumns(cols.symbol[sl], cols.ts_ns[sl], cols.price[sl], cols.qty[sl])


class TickBuffer:
    """FIFO of tick chunks holding at most ``max_ticks`` (queued + in flight + awaiting retry).

    ``take`` hands the oldest ticks to the writer; ``done`` forgets them after a
    successful write; ``put_back`` keeps them (first in line) after a failure.
    """

    def __init__(self, max_ticks: int) -> None:
        if max_ticks <= 0:
            raise ValueError("max_ticks must be positive")
        self.max_ticks = max_ticks
        self._chunks: deque[TickColumns] = deque()
        self._queued = 0
        self._retry: TickColumns | None = None  # a batch that failed, already prepared
        self._inflight = 0
        self.shed = 0
        self.peak = 0

    @property
    def size(self) -> int:
        """Ticks held: queued, awaiting retry and in flight."""
        retry = len(self._retry) if self._retry is not None else 0
        return self._queued + retry + self._inflight

    @property
    def nbytes(self) -> int:
        return self.size * BYTES_PER_TICK

    @property
    def pending(self) -> int:
        """Ticks waiting to be taken (not in flight)."""
        return self.size - self._inflight

    def append(self, cols: TickColumns) -> None:
        if len(cols) == 0:
            return
        self._chunks.append(cols)
        self._queued += len(cols)
        self._enforce()

    def take(self, limit: int) -> tuple[TickColumns, bool] | None:
        """Up to ``limit`` oldest ticks and whether they were prepared before (a retry)."""
        if self._inflight:
            raise RuntimeError("take() while a batch is in flight")
        if self._retry is not None:
            batch, self._retry = self._retry, None
            self._inflight = len(batch)
            return batch, True
        parts: list[TickColumns] = []
        wanted = limit
        while self._chunks and wanted > 0:
            head = self._chunks[0]
            if len(head) <= wanted:
                parts.append(self._chunks.popleft())
                wanted -= len(head)
            else:
                parts.append(_slice(head, 0, wanted))
                self._chunks[0] = _slice(head, wanted)
                wanted = 0
        if not parts:
            return None
        batch = concat(parts)
        self._queued -= len(batch)
        self._inflight = len(batch)
        return batch, False

    def done(self) -> None:
        """The batch in flight was written."""
        self._inflight = 0

    def put_back(self, batch: TickColumns) -> None:
        """The batch in flight failed: keep it first in line (subject to the bound)."""
        self._inflight = 0
        self._retry = batch
        self._enforce()

    def _enforce(self) -> None:
        excess = self.size - self.max_ticks
        if excess <= 0:
            self.peak = max(self.peak, self.size)
            return
        if self._retry is not None and excess > 0:
            drop = min(excess, len(self._retry))
            self._retry = _slice(self._retry, drop) if drop < len(self._retry) else None
            self.shed += drop
            excess -= drop
        while excess > 0 and self._chunks:
            head = self._chunks[0]
            if len(head) <= excess:
                self._chunks.popleft()
                drop = len(head)
            else:
                self._chunks[0] = _slice(head, excess)
                drop = excess
            self._queued -= drop
            self.shed += drop
            excess -= drop
        self.peak = max(self.peak, self.size)


class CandleBuffer:
    """FIFO of candles holding at most ``max_candles``, same take/done/put_back protocol."""

    def __init__(self, max_candles: int) -> None:
        if max_candles <= 0:
            raise ValueError("max_candles must be positive")
        self.max_candles = max_candles
        self._items: deque[CandleMsg] = deque()
        self._inflight = 0
        self.shed = 0

    @property
    def size(self) -> int:
        return len(self._items) + self._inflight

    @property
    def pending(self) -> int:
        return len(self._items)

    def extend(self, candles: Sequence[CandleMsg]) -> None:
        self._items.extend(candles)
        self._enforce()

    def take(self, limit: int) -> list[CandleMsg]:
        n = min(limit, len(self._items))
        batch = [self._items.popleft() for _ in range(n)]
        self._inflight = n
        return batch

    def done(self) -> None:
        self._inflight = 0

    def put_back(self, batch: Sequence[CandleMsg]) -> None:
        self._inflight = 0
        self._items.extendleft(reversed(batch))
        self._enforce()

    def _enforce(self) -> None:
        while self.size > self.max_candles and self._items:
            self._items.popleft()
            self.shed += 1
