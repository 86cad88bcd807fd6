"""Vectorised lateness: what each tick's symbol had already seen when the tick arrived."""

from __future__ import annotations

import itertools

import numpy as np

NO_TIME = np.iinfo(np.int64).min


def prior_max_by_symbol(sid: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Per tick, the latest time among earlier-arriving ticks of its symbol (NO_TIME if none)."""
    n = ts.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.int64)
    order = np.argsort(sid, kind="stable")  # stable: arrival order is kept inside each symbol
    s = sid[order]
    v = ts[order]
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    seg = np.cumsum(first, dtype=np.int64) - 1
    base = int(v.min())
    span = int(v.max()) - base + 1
    if (int(seg[-1]) + 1) * span < 2**62:
        # One running max over all symbols: offsetting each symbol's segment above the
        # previous one stops a segment from seeing its predecessor's values.
        run = np.maximum.accumulate(seg * span + (v - base)) - seg * span + base
    else:
        run = np.empty_like(v)
        bounds = [*np.flatnonzero(first).tolist(), n]
        for a, b in itertools.pairwise(bounds):
            run[a:b] = np.maximum.accumulate(v[a:b])
    prior = np.empty(n, dtype=np.int64)
    prior[1:] = run[:-1]
    prior[first] = NO_TIME
    out = np.empty(n, dtype=np.int64)
    out[order] = prior
    return out


def late_mask(
    sid: np.ndarray, ts: np.ndarray, end: np.ndarray, horizon_before: np.ndarray, grace: int
) -> np.ndarray:
    """Ticks whose 1m bucket had already closed when they arrived.

    A bucket closes once end + grace <= the horizon: the latest time its symbol
    had seen (or the timer). ``horizon_before`` is that horizon before this batch.
    """
    deadline = end + grace
    late = deadline <= horizon_before
    if ts.shape[0] < 2 or bool(np.all(ts[1:] >= ts[:-1])):
        return late  # in time order, no earlier tick of the batch is past a later tick's bucket
    running = np.empty_like(ts)
    running[0] = NO_TIME
    np.maximum.accumulate(ts[:-1], out=running[1:])
    suspects = deadline <= running  # late against the whole batch's running max
    if not suspects.any():
        return late
    # Exact check on the suspects' symbols only (usually a handful of them).
    rows = np.flatnonzero(np.isin(sid, np.unique(sid[suspects])))
    late[rows] |= deadline[rows] <= prior_max_by_symbol(sid[rows], ts[rows])
    return late
