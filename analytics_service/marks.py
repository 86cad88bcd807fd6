"""Prices to mark open positions at: stored candle closes and last ticks, from the tick store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime

from shared.contracts import Timeframe
from shared.tickstore import TickStore

from .metrics.types import Mark

CONCURRENT_QUERIES = 8


async def candle_marks(
    store: TickStore,
    since: Mapping[str, datetime],
    timeframe: Timeframe,
    until: datetime,
    limit: int,
) -> list[Mark]:
    """Each symbol's candle closes from ``since[symbol]`` on, marked at the candle's end;
    candles still open at ``until`` are left out (no price is used before it was known)."""
    slots = asyncio.Semaphore(CONCURRENT_QUERIES)

    async def one(symbol: str, start: datetime) -> list[Mark]:
        async with slots:
            candles = await store.query_candles(symbol, timeframe, start, until, limit)
        return [Mark(symbol, c.end, c.close) for c in candles if c.end <= until]

    parts = await asyncio.gather(*(one(s, t) for s, t in since.items() if t < until))
    return [m for part in parts for m in part]


async def last_ticks(store: TickStore, symbols: Iterable[str], until: datetime) -> list[Mark]:
    """The latest tick of each symbol, if it is not after ``until``."""
    out = []
    for symbol in symbols:
        tick = await store.latest_tick(symbol)
        if tick is not None and tick.ts <= until:
            out.append(Mark(symbol, tick.ts, tick.price))
    return out
