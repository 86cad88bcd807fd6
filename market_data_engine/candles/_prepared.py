"""Closes worked out ahead: messages for candles whose bucket has ended but whose grace runs.

Between a bucket's end and its close (end + grace) the engine already knows which
candles will close and, unless a late tick still arrives, their values. It builds
their messages then, in a call that closes nothing, and the close itself hands out
the prepared message of every candle whose values are still the same. A candle that
changed since (a late tick within the grace) gets a new message at the close, so a
prepared message is only ever a copy of what the close computed anyway.
"""

from __future__ import annotations

import numpy as np

from market_data_engine.candles._candles import Candles, bucket_key
from shared.contracts import CandleMsg

_COMPARED = ("end", "open", "high", "low", "close", "volume", "trades")
"""Message fields besides the bucket key (symbol, timeframe, start) that must match."""


class PreparedCloses:
    """Candle rows and their messages, sorted by bucket key; each message is handed out once."""

    def __init__(self) -> None:
        self._rows = Candles.empty()
        self._key = np.empty(0, dtype=np.int64)
        self._msgs = np.empty(0, dtype=object)

    def __len__(self) -> int:
        return int(self._key.shape[0])

    def missing(self, key: np.ndarray) -> np.ndarray:
        """Mask of the bucket keys that have no prepared message."""
        if len(self) == 0:
            return np.ones(key.shape[0], dtype=bool)
        pos = np.minimum(np.searchsorted(self._key, key), len(self) - 1)
        out: np.ndarray = self._key[pos] != key
        return out

    def add(self, rows: Candles, messages: list[CandleMsg]) -> None:
        """Prepared messages for ``rows``; they replace what was held for the same symbols."""
        if len(rows) == 0:
            return
        keep = ~np.isin(self._rows.sid, np.unique(rows.sid))
        key = np.concatenate([self._key[keep], bucket_key(rows.sid, rows.tf, rows.start)])
        msgs = np.concatenate(
            [self._msgs[keep], np.fromiter(messages, dtype=object, count=len(messages))]
        )
        order = np.argsort(key, kind="stable")
        self._rows = Candles.concat([self._rows.take(keep), rows]).take(order)
        self._key, self._msgs = key[order], msgs[order]

    def take(self, closed: Candles) -> tuple[list[CandleMsg | None], np.ndarray]:
        """(a message or None per row of ``closed``, indices of the rows left None).

        A row gets its prepared message when one exists and every message field still
        equals the row's. Entries used or not, the buckets are closed and never close
        again; ``prune`` drops them later, outside the burst.
        """
        n = len(closed)
        if len(self) == 0:
            return [None] * n, np.arange(n)
        key = bucket_key(closed.sid, closed.tf, closed.start)
        pos = np.minimum(np.searchsorted(self._key, key), len(self) - 1)
        same = self._key[pos] == key
        held = self._rows
        for name in _COMPARED:
            same &= getattr(held, name)[pos] == getattr(closed, name)
        msgs = self._msgs[pos]
        msgs[~same] = None
        self._msgs[pos[same]] = None  # a message is handed out once; other entries stay
        out: list[CandleMsg | None] = msgs.tolist()
        return out, np.flatnonzero(~same)

    def prune(self, horizon: np.ndarray, grace: int) -> None:
        """Drop the entries of buckets that have closed (end + grace <= their horizon)."""
        if len(self) == 0:
            return
        keep = self._rows.end + grace > horizon[self._rows.sid]
        if not keep.all():
            self._rows, self._key, self._msgs = (
                self._rows.take(keep),
                self._key[keep],
                self._msgs[keep],
            )
