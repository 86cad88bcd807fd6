"""A bounded, time-keyed columnar series in numpy chunks (the local store's storage)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Columns = tuple[npt.NDArray[np.generic], ...]  # column 0 is the int64 time key

_MAX_CHUNKS = 32


class Series:
    """Rows appended in chunks; kept sorted by time and trimmed to the newest ``cap`` rows.

    With ``unique_keys`` a row whose time key is already present replaces the
    older one (candles: a rewritten candle replaces the previous version).
    """

    __slots__ = ("_chunks", "_size", "_sorted", "cap", "shed", "unique_keys")

    def __init__(self, cap: int, unique_keys: bool = False) -> None:
        self.cap = cap
        self.unique_keys = unique_keys
        self._chunks: list[Columns] = []
        self._size = 0
        self._sorted = True  # the single chunk (if one) is sorted, unique and within cap
        self.shed = 0

    def __len__(self) -> int:
        return self._compacted_len() if not self._sorted else self._size

    @property
    def rows(self) -> int:
        """Rows held now, before any pending de-duplication or trimming."""
        return self._size

    def append(self, cols: Columns) -> None:
        n = int(cols[0].shape[0])
        if n == 0:
            return
        self._chunks.append(cols)
        self._size += n
        self._sorted = False
        # Compact in amortised steps: many tiny chunks or too far over the bound.
        if len(self._chunks) > _MAX_CHUNKS or self._size > self.cap + max(self.cap // 4, 64):
            self.compact()

    def compact(self) -> Columns | None:
        """Merge chunks into one sorted (deduplicated, trimmed) chunk and return it."""
        if not self._chunks:
            return None
        if self._sorted:
            return self._chunks[0]
        width = len(self._chunks[0])
        cols = tuple(np.concatenate([c[i] for c in self._chunks]) for i in range(width))
        keys = cols[0]
        if keys.shape[0] > 1 and not bool(np.all(keys[1:] >= keys[:-1])):
            order = np.argsort(keys, kind="stable")
            cols = tuple(c[order] for c in cols)
            keys = cols[0]
        if self.unique_keys and keys.shape[0] > 1:
            # Among equal keys keep the last written (stable sort kept arrival order).
            keep = np.ones(keys.shape[0], dtype=bool)
            keep[:-1] = keys[1:] != keys[:-1]
            if not keep.all():
                cols = tuple(c[keep] for c in cols)
        excess = int(cols[0].shape[0]) - self.cap
        if excess > 0:
            cols = tuple(c[excess:].copy() for c in cols)
            self.shed += excess
        self._chunks = [cols]
        self._size = int(cols[0].shape[0])
        self._sorted = True
        return cols

    def window(self, lo: int | None, hi: int | None, limit: int) -> Columns | None:
        """Rows with ``lo <= key < hi``, ascending, at most the latest ``limit``."""
        cols = self.compact()
        if cols is None:
            return None
        keys = cols[0]
        i = 0 if lo is None else int(np.searchsorted(keys, lo, side="left"))
        j = keys.shape[0] if hi is None else int(np.searchsorted(keys, hi, side="left"))
        i = max(i, j - max(limit, 0))
        return tuple(c[i:j].copy() for c in cols)

    def _compacted_len(self) -> int:
        cols = self.compact()
        return 0 if cols is None else int(cols[0].shape[0])
