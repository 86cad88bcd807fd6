"""Quotes from the tick store: last price, change since the previous session's close, day range.

A quote answers at any hour: while a market trades, from its latest tick and the
candles closed so far in the session; when it is closed, from the last session's
candles (a weekend shows Friday's close and Friday's change). The session is the
exchange's own (NSE 09:15-15:30 IST, a UTC day for crypto), as in the candles.

One ``QuoteService`` serves every request of a process. Building a quote takes
several candle queries, so what was built is reused by every user until something it
was built from changes: while the service ``follow``s the closed-candle events of the
bus, a symbol's quote is built when it is first asked for and again after one of its
minute candles closes (and at the latest after ``max_age`` seconds, in case an event
was lost); without the events, after ``ttl`` seconds. The price is never reused that
way: each answer takes the symbol's latest tick from the tick store (held in memory,
read again after the store's own TTL, the path that keeps position marks moving) and,
when it is newer than the quote, moves the price, the change and the day's high and
low with it. Concurrent requests for a symbol whose quote is missing or stale share
one build.

The engine writes a candle to the tick store through a buffer that is flushed a moment
after the candle's event goes out, so a build right after a close may not find it
there yet: the last few minute candles seen on the bus are merged into each build.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.bus import EventBus
from shared.contracts import CHANNEL_CANDLES, CandleMsg, TickMsg, Timeframe
from shared.instruments import Instrument
from shared.tickstore import TickStore

CONCURRENCY = 8  # store queries of one request in flight at once
MAX_AGE = 300.0  # seconds a quote is kept while following closes, in case an event was lost
MINUTE_CLOSES = CHANNEL_CANDLES.format(symbol="*", timeframe=Timeframe.M1.value)
"""Every symbol's closed minute candles; the other timeframes close with a minute."""
_RANGE_LIMIT = 5_000
_RECENT = 5  # minute candles kept per symbol from the bus, for builds the store lags behind
_QUEUE = 100_000  # a minute boundary closes one candle per symbol at once


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


@dataclass(frozen=True, slots=True)
class _Held:
    built_at: float  # monotonic time the build started
    closes: int  # the symbol's count of closes seen when the build started
    quote: Quote


class QuoteService:
    """Quotes from a tick store. A quote is built again after a minute candle of its symbol
    closes while ``follow`` runs, else at most once per ``ttl`` seconds (0: on every call);
    ``now`` decides only whether the market is open."""

    def __init__(
        self,
        store: TickStore,
        concurrency: int = CONCURRENCY,
        *,
        ttl: float = 0.0,
        max_age: float = MAX_AGE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.max_age = max_age
        self.builds = 0  # quotes built from the store (the rest came from the cache)
        self.following = False  # True while closes arrive from the bus (``follow``)
        self._limit = asyncio.Semaphore(concurrency)
        self._monotonic = monotonic
        self._built: dict[str, _Held] = {}
        self._building: dict[str, asyncio.Task[Quote]] = {}
        self._closes: dict[str, int] = {}  # symbol -> minute candles seen closing
        self._recent: dict[str, deque[CandleMsg]] = {}  # symbol -> its last minute candles

    def candle_closed(self, candle: CandleMsg) -> None:
        """A candle of ``candle.symbol`` closed: its quote is built again when next asked for."""
        if candle.timeframe is not Timeframe.M1:
            return
        symbol = candle.symbol
        self._closes[symbol] = self._closes.get(symbol, 0) + 1
        recent = self._recent.get(symbol)
        if recent is None:
            recent = self._recent[symbol] = deque(maxlen=_RECENT)
        recent.append(candle)

    def forget_all(self) -> None:
        """Closes may have been missed: every quote is built again when next asked for."""
        self._built.clear()

    async def follow(self, bus: EventBus) -> None:
        """Build quotes again as their symbols' minute candles close on ``bus``, until
        cancelled; a subscription that drops events forgets every quote."""
        sub = await bus.subscribe([], [MINUTE_CLOSES], maxsize=_QUEUE)
        self.forget_all()  # what was built before the subscription may have missed a close
        self.following = True
        dropped = 0
        try:
            async for _, message in sub:
                if isinstance(message, CandleMsg):
                    self.candle_closed(message)
                if sub.dropped != dropped:
                    dropped = sub.dropped
                    self.forget_all()
        finally:
            self.following = False
            with contextlib.suppress(Exception):
                await sub.close()

    def _fresh(self, held: _Held) -> bool:
        age = self._monotonic() - held.built_at
        if not self.following:
            return age <= self.ttl
        return held.closes == self._closes.get(held.quote.symbol, 0) and age <= self.max_age

    async def quotes(self, instruments: Sequence[Instrument], now: datetime) -> list[Quote]:
        """One quote per instrument, in the order given."""
        return list(await asyncio.gather(*(self.quote(i, now) for i in instruments)))

    async def quote(self, instrument: Instrument, now: datetime) -> Quote:
        symbol = instrument.symbol
        held = self._built.get(symbol)
        if held is not None and self._fresh(held):
            quote = await self._with_latest_tick(held.quote)
            if quote is None:  # a tick of a later session: the day's figures start again
                quote = await self._shared_build(instrument)
        else:
            quote = await self._shared_build(instrument)
        return replace(quote, market_open=instrument.calendar().is_open(now))

    async def _shared_build(self, instrument: Instrument) -> Quote:
        symbol = instrument.symbol
        building = self._building.get(symbol)
        if building is None:
            building = asyncio.get_running_loop().create_task(self._guarded(instrument))
            self._building[symbol] = building
            building.add_done_callback(lambda task: self._built_one(symbol, task))
        return await asyncio.shield(building)

    def _built_one(self, symbol: str, task: asyncio.Task[Quote]) -> None:
        self._building.pop(symbol, None)
        if not task.cancelled():
            task.exception()  # its waiters got it; none left is no error of the loop's

    async def _guarded(self, instrument: Instrument) -> Quote:
        async with self._limit:
            started = self._monotonic()
            closes = self._closes.get(instrument.symbol, 0)
            quote = await self.build(instrument)
            self.builds += 1
            self._built[instrument.symbol] = _Held(started, closes, quote)
            return quote

    async def _with_latest_tick(self, quote: Quote) -> Quote | None:
        """``quote`` moved to the symbol's latest tick when that is newer; None when the
        tick belongs to another session than the quote (or the quote has no price yet)."""
        tick = await self.store.latest_tick(quote.symbol)
        if tick is None or (quote.ts is not None and tick.ts <= quote.ts):
            return quote
        s_open, s_close = quote.session_open, quote.session_close
        if quote.ts is None or s_open is None or s_close is None:
            return None
        if not s_open <= tick.ts < s_close:
            return None
        price = tick.price
        change = None if quote.prev_close is None else round(price - quote.prev_close, 10)
        pct = (
            None
            if change is None or not quote.prev_close
            else round(100 * change / quote.prev_close, 2)
        )
        return replace(
            quote,
            price=price,
            ts=tick.ts,
            change=change,
            change_pct=pct,
            high=price if quote.high is None else max(quote.high, price),
            low=price if quote.low is None else min(quote.low, price),
            open=price if quote.open is None else quote.open,
        )

    async def build(self, instrument: Instrument) -> Quote:
        """A quote read from the store now (``market_open`` left False: set per answer)."""
        base = Quote(
            symbol=instrument.symbol,
            exchange=instrument.exchange,
            currency=instrument.currency,
            market_open=False,
        )
        cal = instrument.calendar()
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
        candle = max([*minute, *self._recent.get(symbol, ())], key=_start, default=None)
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
        stored = {m.start for m in minutes}
        unwritten = [
            c
            for c in self._recent.get(symbol, ())
            if since <= c.start < s_close and c.start not in stored
        ]
        bars: list[CandleMsg] = sorted([*hours, *minutes, *unwritten], key=_start)
        prices = [last.price] if s_open <= last.anchor < s_close else []
        if not bars and not prices:
            return None, None, None, None
        opening = bars[0].open if bars else prices[0]
        high = max([b.high for b in bars] + prices)
        low = min([b.low for b in bars] + prices)
        return opening, high, low, round(sum(b.volume for b in bars), 10)


def _start(candle: CandleMsg) -> datetime:
    return candle.start
