"""The tick store interface: columnar tick writes, candle writes, range queries.

Writes never fail because the backend is away: adapters buffer (bounded,
dropping the oldest and counting what they shed) and drain when it returns.
Queries take half-open UTC ranges ``[start, end)`` and return rows ascending in
time; with more rows than ``limit`` in range, the latest ``limit`` are returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from shared.contracts import CandleMsg, TickMsg, Timeframe
from shared.errors import ServiceUnavailable
from shared.ticks import TickBatch

DEFAULT_QUERY_LIMIT = 10_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TickStoreUnavailable(ServiceUnavailable):
    """The tick store's backend cannot answer a query right now."""

    code = "tickstore_unavailable"


# Ticks as parallel arrays: symbol (str objects), ts_ns (int64 UTC epoch ns), price, qty.
TickColumns = TickBatch


@runtime_checkable
class TickStore(Protocol):
    """Where ticks and closed candles are kept (InfluxDB, or local for the embedded profile)."""

    async def start(self) -> None:
        """Connect and start background work; optional, the first write starts it too."""

    async def write_ticks(
        self,
        symbols: npt.NDArray[Any],
        ts_ns: npt.NDArray[Any],
        prices: npt.NDArray[Any],
        qtys: npt.NDArray[Any],
    ) -> None:
        """Accept a batch of ticks (parallel arrays); buffers, never raises on a backend outage."""

    async def write_candles(self, candles: Sequence[CandleMsg]) -> None:
        """Accept closed (or updated) candles; a candle with the same key replaces the old one."""

    async def flush(self) -> None:
        """Write out what is buffered now (one attempt; what cannot be written stays buffered)."""

    async def query_ticks(
        self,
        symbol: str,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = DEFAULT_QUERY_LIMIT,
    ) -> TickColumns:
        """Ticks of ``symbol`` in ``[start, end)``, ascending; the latest ``limit`` if more."""
        ...

    async def query_candles(
        self,
        symbol: str,
        timeframe: Timeframe,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = DEFAULT_QUERY_LIMIT,
    ) -> list[CandleMsg]:
        """Candles whose start is in ``[start, end)``, ascending; the latest ``limit`` if more."""
        ...

    async def latest_tick(self, symbol: str) -> TickMsg | None:
        """The most recent tick of ``symbol``, or None."""
        ...

    def stats(self) -> dict[str, Any]:
        """Counters: buffered, written, shed, failed_writes, ... (names per adapter, documented)."""
        ...

    async def close(self) -> None:
        """Flush what can be flushed and release resources."""


def to_ns(ts: datetime) -> int:
    """Epoch nanoseconds of an aware datetime (exact, no float rounding)."""
    if ts.tzinfo is None:
        raise ValueError("tick store timestamps must be timezone-aware")
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def from_ns(ns: int) -> datetime:
    """Aware UTC datetime of epoch nanoseconds (microsecond resolution, like datetime)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest // 1000)


def time_bounds(start: datetime | None, end: datetime | None) -> tuple[int | None, int | None]:
    """``[start, end)`` as epoch ns (None for open ends)."""
    return (None if start is None else to_ns(start), None if end is None else to_ns(end))


def clean_ticks(
    symbols: npt.NDArray[Any],
    ts_ns: npt.NDArray[Any],
    prices: npt.NDArray[Any],
    qtys: npt.NDArray[Any],
) -> tuple[TickColumns, int]:
    """Copy a batch into owned typed arrays, dropping ticks no store can keep (NaN/inf).

    Returns the kept columns and how many were dropped.
    """
    n = len(ts_ns)
    if not (len(symbols) == n == len(prices) == len(qtys)):
        raise ValueError("write_ticks: symbols, ts_ns, prices and qtys must have equal lengths")
    sym = np.array(symbols, dtype=object, copy=True)
    ts = np.array(ts_ns, dtype=np.int64, copy=True)
    price = np.array(prices, dtype=np.float64, copy=True)
    qty = np.array(qtys, dtype=np.float64, copy=True)
    ok = np.isfinite(price) & np.isfinite(qty)
    if ok.all():
        return TickColumns(sym, ts, price, qty), 0
    return TickColumns(sym[ok], ts[ok], price[ok], qty[ok]), int(n - ok.sum())


def latest_per_symbol(cols: TickColumns) -> dict[str, tuple[int, float, float]]:
    """For each symbol in ``cols``, its (ts_ns, price, qty) of greatest ts (last one on ties)."""
    n = len(cols)
    if n == 0:
        return {}
    ts = cols.ts_ns
    if n > 1 and not bool(np.all(ts[1:] >= ts[:-1])):
        order = np.argsort(ts, kind="stable")
        last = dict(zip(cols.symbol[order].tolist(), order.tolist(), strict=True))
    else:
        # Already in time order: the last occurrence of each symbol is its latest tick.
        last = dict(zip(cols.symbol.tolist(), range(n), strict=True))
    return {
        str(sym): (int(ts[i]), float(cols.price[i]), float(cols.qty[i])) for sym, i in last.items()
    }
