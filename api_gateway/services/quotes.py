"""Quotes from the tick store: last price, change since the previous session's close, day range.

A quote answers at any hour: while a market trades, from its latest tick and the
candles closed so far in the session; when it is closed, from the last session's
candles (a weekend shows Friday's close and Friday's change). The session is the
exchange's own (NSE 09:15-15:30 IST, a UTC day for crypto), as in the candles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.contracts import CandleMsg, TickMsg, Timeframe
from shared.instruments import Instrument
from shared.tickstore import TickStore

CONCURRENCY = 8  # store queries of one request in flight at once
_RANGE_LIMIT = 5_000


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    exchange: str
    currency: str
    market_open: bool
    price: float | None = None
    ts: datetime | None = None
    prev_close: float | None = None
    change: float | None = None
    change_pct: float | None = None
    open: float | None = None
    high: float | None = None
    low: float | None = None
    volume: float | None = None
    session_open: datetime | None = None
    session_close: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Last:
    price: float
    ts: datetime
    anchor: datetime  # a moment inside the session the price belongs to


class QuoteService:
    """Builds quotes from a tick store; ``now`` decides only whether the market is open."""

    def __init__(self, store: TickStore, concurrency: int = CONCURRENCY) -> None:
        self.store = store
        self._limit = asyncio.Semaphore(concurrency)

    async def quotes(self, instruments: Sequence[Instrument], now: datetime) -> list[Quote]:
        """One quote per instrument, in the order given."""
        return list(await asyncio.gather(*(self._guarded(i, now) for i in instruments)))

    async def _guarded(self, instrument: Instrument, now: datetime) -> Quote:
        async with self._limit:
            return await self.quote(instrument, now)

    async def quote(self, instrument: Instrument, now: datetime) -> Quote:
        cal = instrument.calendar()
        base = Quote(
            symbol=instrument.symbol,
            exchange=instrument.exchange,
            currency=instrument.currency,
            market_open=cal.is_open(now),
        )
        last = await self._last(instrument.symbol)
        if last is None:
            return base
        s_open, s_close = cal.last_session(last.anchor)
        prev_close = await self._previous_close(instrument.symbol, s_open)
        day = await self._day_range(instrument.symbol, s_open, s_close, last)
        change = None if prev_close is None else round(last.price - prev_close, 10)
        pct = None if change is None or not prev_close else round(100 * change / prev_close, 2)
        return Quote(
            symbol=base.symbol,
            exchange=base.exchange,
            currency=base.currency,
            market_open=base.market_open,
            price=last.price,
            ts=last.ts,
            prev_close=prev_close,
            change=change,
            change_pct=pct,
            open=day[0],
            high=day[1],
            low=day[2],
            volume=day[3],
            session_open=s_open,
            session_close=s_close,
        )

    async def _last(self, symbol: str) -> _Last | None:
        """The newest price: the latest tick, or the close of the latest 1m candle if newer."""
        tick: TickMsg | None = await self.store.latest_tick(symbol)
        minute = await self.store.query_candles(symbol, Timeframe.M1, limit=1)
        candle = minute[-1] if minute else None
        if tick is not None and (candle is None or tick.ts >= candle.start):
            return _Last(tick.price, tick.ts, tick.ts)
        if candle is None:
            return None
        return _Last(candle.close, candle.end, candle.start)

    async def _previous_close(self, symbol: str, session_open: datetime) -> float | None:
        """The close of the session before the one starting at ``session_open``."""
        daily = await self.store.query_candles(symbol, Timeframe.D1, end=session_open, limit=1)
        if daily:
            return daily[-1].close
        minute = await self.store.query_candles(symbol, Timeframe.M1, end=session_open, limit=1)
        return minute[-1].close if minute else None

    async def _day_range(
        self, symbol: str, s_open: datetime, s_close: datetime, last: _Last
    ) -> tuple[float | None, float | None, float | None, float | None]:
        """Open, high, low and volume of the session: its daily candle once closed, else
        the hours and minutes closed so far and the latest tick."""
        store = self.store
        daily = await store.query_candles(
            symbol, Timeframe.D1, start=s_open, end=s_open + timedelta(microseconds=1), limit=1
        )
        if daily:
            d = daily[0]
            return d.open, max(d.high, last.price), min(d.low, last.price), d.volume
        hours = await store.query_candles(symbol, Timeframe.H1, s_open, s_close, _RANGE_LIMIT)
        since = hours[-1].end if hours else s_open
        minutes = await store.query_candles(symbol, Timeframe.M1, since, s_close, _RANGE_LIMIT)
        bars: list[CandleMsg] = [*hours, *minutes]
        prices = [last.price] if s_open <= last.anchor < s_close else []
        if not bars and not prices:
            return None, None, None, None
        opening = bars[0].open if bars else prices[0]
        high = max([b.high for b in bars] + prices)
        low = min([b.low for b in bars] + prices)
        return opening, high, low, round(sum(b.volume for b in bars), 10)
