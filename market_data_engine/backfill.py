"""History before the live feed: the simulated market's recent sessions, in the tick store.

On start, each symbol's newest stored 1m candle is read. What is missing between it
(or, for a symbol without history, the open of the last ``sessions`` sessions) and
the current minute is simulated (``HistorySimulator``), rolled up to 5m/15m/1h/1d
and written, continuing from the stored close; a symbol without history ends its
walk at its reference price, where the live feed starts. A restart writes only the
minutes it was away; a second start within a minute writes nothing.

The result tells the live feed where each price stands and gives the candle engine
the minutes of a session under way, so the 5m to 1d candles it closes later hold
the whole session. ``warm_candle_cache`` then fills the candle cache from the store,
so strategy windows are full from the first candle close.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from market_data_engine.candles.buckets import from_ns, to_ns
from market_data_engine.candles.history import (
    MinuteBars,
    bars_from_candles,
    empty_bars,
    floor_minute,
    minute_messages,
    rolled_up,
)
from market_data_engine.feeds.simulated_history import HistorySimulator, sessions_back
from shared.candle_cache import DEFAULT_DEPTH, CandleCache, MergingCandleCache
from shared.clock import Clock
from shared.contracts import CandleMsg, Timeframe
from shared.instruments import InstrumentCatalog
from shared.tickstore import TickStore

log = logging.getLogger(__name__)

_DAY_MINUTES = 1_440  # the most 1m candles any session has


@dataclass(slots=True)
class History:
    """What a backfill wrote, and what the live side needs from it."""

    end: datetime
    """The minute history reaches (exclusive): the live feed carries on from here."""
    written: int = 0
    """Candles written (every timeframe)."""
    symbols: int = 0
    """Symbols that got new candles."""
    last_prices: dict[str, float] = field(default_factory=dict)
    """Each symbol's last close, where its live prices start."""
    open_sessions: list[MinuteBars] = field(default_factory=list)
    """The 1m bars of sessions still under way at ``end`` (for ``CandleEngine.seed``)."""
    seconds: float = 0.0


class HistoryBackfill:
    """Fills the tick store with the simulated market's last ``sessions`` sessions of 1m bars."""

    def __init__(
        self,
        store: TickStore,
        catalog: InstrumentCatalog,
        simulator: HistorySimulator,
        clock: Clock,
        *,
        sessions: int = 30,
    ) -> None:
        if sessions < 1:
            raise ValueError("sessions must be at least 1")
        self.store = store
        self.catalog = catalog
        self.simulator = simulator
        self.clock = clock
        self.sessions = sessions

    async def run(self, symbols: Sequence[str]) -> History:
        """Write what is missing for each symbol up to the current minute; flush the store."""
        began = time.monotonic()
        now = self.clock.now()
        history = History(end=from_ns(floor_minute(to_ns(now))))
        # The first question to a calendar loads its holidays: keep that off the event loop.
        starts = await asyncio.to_thread(self._window_starts, symbols, history.end)
        for symbol in symbols:
            await self._fill(symbol, starts[symbol], history)
        if history.written:
            await self.store.flush()
        history.seconds = time.monotonic() - began
        return history

    def _window_starts(self, symbols: Sequence[str], end: datetime) -> dict[str, datetime]:
        out: dict[str, datetime] = {}
        by_exchange: dict[str, datetime] = {}
        for symbol in symbols:
            exchange = self.catalog.get(symbol).exchange
            if exchange not in by_exchange:
                by_exchange[exchange] = sessions_back(
                    self.catalog.calendar(symbol), end - timedelta(microseconds=1), self.sessions
                )
            out[symbol] = by_exchange[exchange]
        return out

    async def _fill(self, symbol: str, window_start: datetime, history: History) -> None:
        instrument = self.catalog.get(symbol)
        calendar = self.catalog.calendar(symbol)
        end = history.end
        newest = await self.store.query_candles(symbol, Timeframe.M1, limit=1)
        last = newest[-1] if newest else None
        begin = window_start if last is None else max(window_start, last.end)
        current = calendar.last_session(end - timedelta(microseconds=1))
        stored = empty_bars(symbol)
        if last is not None:
            # The stored minutes of the sessions history resumes in and ends in: the candles
            # rolled up over them must hold every minute of their buckets.
            since = min(calendar.last_session(min(begin, end))[0], current[0])
            rows = await self.store.query_candles(
                symbol, Timeframe.M1, since, begin, limit=self.sessions * _DAY_MINUTES
            )
            stored = bars_from_candles(symbol, rows, calendar)
        generated = empty_bars(symbol)
        if begin < end:
            generated = await asyncio.to_thread(
                self.simulator.bars,
                instrument,
                calendar,
                begin,
                end,
                start_price=last.close if last is not None else None,
            )
        if len(generated):
            every = MinuteBars.concat(symbol, [stored, generated])
            candles: list[CandleMsg] = minute_messages(generated)
            candles += rolled_up(every, after_ns=to_ns(begin), until_ns=to_ns(end))
            await self.store.write_candles(candles)
            history.written += len(candles)
            history.symbols += 1
            history.last_prices[symbol] = float(generated.close[-1])
        elif last is not None:
            history.last_prices[symbol] = last.close
        if end < current[1]:
            under_way = MinuteBars.concat(symbol, [stored, generated]).since(to_ns(current[0]))
            if len(under_way):
                history.open_sessions.append(under_way)


async def warm_candle_cache(
    store: TickStore,
    cache: CandleCache,
    symbols: Sequence[str],
    depth: int = DEFAULT_DEPTH,
) -> int:
    """Put the last ``depth`` stored candles of every (symbol, timeframe) into the cache.

    Strategy windows are read from the cache, so a subscription made right after a start
    has its history at the first candle close. A cache that can merge gets the stored
    candles among those it holds, so history stored after the cache was filled (a
    download into a running deployment) reaches the windows too; the live candles it
    holds stay. Returns how many candles were added.
    """
    added = 0
    for symbol in symbols:
        for timeframe in Timeframe:
            candles = await store.query_candles(symbol, timeframe, limit=depth)
            if isinstance(cache, MergingCandleCache):
                added += await cache.merge(symbol, timeframe, candles) if candles else 0
            elif candles:
                await cache.push(candles)
                added += len(candles)
    return added
