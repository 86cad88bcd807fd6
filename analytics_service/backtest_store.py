"""A backtest's candles from the tick store: the range, and the warm-up before it.

A run over ``[start, end)`` also reads the latest candles before ``start`` (as many as the
strategy reads to decide on a bar), so it can signal on the range's first bar as live
would; it trades from ``start`` on. Used by the REST runs and the command line alike.
"""

from __future__ import annotations

from datetime import datetime

from shared.contracts import Timeframe
from shared.errors import Unprocessable
from shared.tickstore import TickStore

from .backtest.data import Bars, bars_from_candles
from .backtest.portfolio import SymbolData


async def range_data(
    store: TickStore,
    symbol: str,
    timeframe: Timeframe,
    start: datetime,
    end: datetime,
    *,
    warmup: int,
    limit: int,
    used: int = 0,
) -> SymbolData:
    """The candles of ``[start, end)`` with up to ``warmup`` before them; 422 when the range
    is empty or holds more than ``limit`` bars with the ``used`` ones of the run's other
    symbols (the warm-up is not counted)."""
    left = max(0, limit - used)
    candles = await store.query_candles(symbol, timeframe, start, end, limit=left + 1)
    if len(candles) > left:
        over = " over the run's symbols" if used else ""
        raise Unprocessable(f"more than {limit:,} bars in the range{over} (the per-run limit)")
    before = []
    if warmup and candles:
        before = await store.query_candles(symbol, timeframe, None, start, limit=warmup)
    return SymbolData(bars_from_candles(symbol, timeframe, [*before, *candles]), len(before))


async def minute_bars(
    store: TickStore, symbol: str, start: datetime, end: datetime, *, limit: int
) -> Bars | None:
    """The store's 1m candles of ``[start, end)`` to replay inside longer bars (None: none
    stored, or more than ``limit``)."""
    minutes = await store.query_candles(symbol, Timeframe.M1, start, end, limit=limit + 1)
    if not minutes or len(minutes) > limit:
        return None
    return bars_from_candles(symbol, Timeframe.M1, minutes)
