"""A simulated market feed: deterministic random-walk ticks on each instrument's tick grid.

Two modes:

- ``realtime=True``: ticks are stamped from a ``Clock`` and produced at the configured rate
  in wall time (a batch every ``batch_interval_s``). Used by the embedded profile's demo feed.
- ``realtime=False``: as fast as possible, with event timestamps starting at ``start`` and
  advancing at the configured rate. Used by tests, benchmarks and backtests; the same seed
  and parameters always give the same ticks.

NSE symbols tick only inside NSE sessions (09:15-15:30 IST on trading days) unless
``around_the_clock=True``; crypto symbols tick all the time.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, Mapping, Sequence
from datetime import datetime

import numpy as np

from market_data_engine.feeds._random_walk import DAY_S, RandomWalkModel
from market_data_engine.feeds._sessions import SessionGate
from market_data_engine.feeds._time import to_ns
from market_data_engine.feeds.base import Feed
from market_data_engine.ticks import TickBatch
from shared.calendar import NSECalendar, SessionHoursCalendar
from shared.clock import Clock, SystemClock
from shared.instruments import InstrumentCatalog

_FOREVER_NS = 2**62
_MAX_CATCH_UP_NS = 5_000_000_000  # after a stall, real-time mode resumes from now - 5 s
_REALTIME_MAX_CHUNK = 1_000_000


class SimulatedFeed(Feed):
    """Random-walk ticks for ``symbols`` (default: the NIFTY 50) at ``rate`` ticks per second.

    Prices start at ``start_prices`` (where stored history ends) or at each instrument's
    ``ref_price``. ``rate`` is the overall rate while every symbol is open, shared equally
    among symbols;
    a closed symbol's share is not redistributed, so after NSE hours a mixed NSE and crypto
    feed slows down as a real one would. ``max_ticks`` and (fast mode) ``end`` end the feed.
    """

    def __init__(
        self,
        catalog: InstrumentCatalog,
        symbols: Sequence[str] | None = None,
        *,
        seed: int = 0,
        rate: float = 50.0,
        realtime: bool = True,
        clock: Clock | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        max_ticks: int | None = None,
        batch_size: int = 10_000,
        batch_interval_s: float = 0.1,
        around_the_clock: bool = False,
        start_prices: Mapping[str, float] | None = None,
        name: str = "simulated",
    ) -> None:
        syms = list(symbols) if symbols is not None else _nifty50(catalog)
        if not syms:
            raise ValueError("a simulated feed needs at least one symbol")
        if not rate > 0 or batch_size < 1 or batch_interval_s <= 0:
            raise ValueError("rate, batch_size and batch_interval_s must be positive")
        super().__init__(name, syms)
        instruments = [catalog.get(s) for s in syms]
        self.rate = float(rate)
        self.realtime = realtime
        self.batch_size = batch_size
        self.batch_interval_s = batch_interval_s
        self._clock = clock or SystemClock()
        self._start_ns = to_ns(start) if start is not None else None
        self._end_ns = to_ns(end) if end is not None else None
        self._remaining = max_ticks if max_ticks is not None else math.inf
        self._gate = SessionGate(catalog, syms, around_the_clock=around_the_clock)
        calendars = [None if around_the_clock else catalog.calendar(s) for s in syms]
        self._model = RandomWalkModel(
            instruments,
            rate=self.rate,
            rng=np.random.default_rng(seed),
            session_s=[
                cal.session_seconds if isinstance(cal, SessionHoursCalendar) else DAY_S
                for cal in calendars
            ],
            u_shape=[isinstance(cal, NSECalendar) for cal in calendars],  # NSE's intraday shape
            start_prices=[
                (start_prices or {}).get(i.symbol, float(i.ref_price)) for i in instruments
            ],
        )
        self._rate_per_symbol_ns = self.rate / len(syms) / 1e9
        self._carry = 0.0
        self._t_ns: int | None = None  # event time reached; a restarted feed carries on from it

    def last_prices(self) -> dict[str, float]:
        """The current (unrounded) simulated price of each symbol."""
        return dict(zip(self.symbols, self._model.last_prices().tolist(), strict=True))

    async def _open(self) -> None:
        # The first calendar question loads the exchange holiday list (seconds of CPU):
        # do it off the event loop so a live process keeps serving while the feed starts.
        now = to_ns(self._clock.now())
        await asyncio.to_thread(self._gate.open_at, now)

    def _stream(self) -> AsyncGenerator[TickBatch, None]:
        return self._paced() if self.realtime else self._fast()

    async def _fast(self) -> AsyncGenerator[TickBatch, None]:
        t = self._t_ns
        if t is None:
            t = self._start_ns if self._start_ns is not None else to_ns(self._clock.now())
        end = self._end_ns if self._end_ns is not None else _FOREVER_NS
        while t < end and self._remaining > 0 and not self.stopping:
            batch, t = self._next_chunk(t, end, self.batch_size)
            self._t_ns = t
            if batch is not None:
                yield batch
            await asyncio.sleep(0)  # generation is CPU-bound: let other tasks run between batches

    async def _paced(self) -> AsyncGenerator[TickBatch, None]:
        last = to_ns(self._clock.now())
        while self._remaining > 0:
            if await self._sleep(self.batch_interval_s):
                return
            now = to_ns(self._clock.now())
            last = max(last, now - _MAX_CATCH_UP_NS)
            parts = []
            while last < now and self._remaining > 0:
                batch, last = self._next_chunk(last, now, _REALTIME_MAX_CHUNK)
                if batch is not None:
                    parts.append(batch)
            if parts:
                yield TickBatch.concat(parts)

    def _next_chunk(self, t: int, limit: int, max_n: int) -> tuple[TickBatch | None, int]:
        """Ticks from ``t`` up to at most ``max_n`` ticks, ``limit`` or a session boundary."""
        open_idx, change = self._gate.open_at(t)
        stop_at = limit if change is None else min(limit, change)
        if open_idx.size == 0:
            return None, stop_at
        rate_ns = self._rate_per_symbol_ns * open_idx.size
        max_n = int(min(max_n, self._remaining))
        t_end = min(t + max(1, math.ceil(max_n / rate_ns)), stop_at)
        expected = (t_end - t) * rate_ns + self._carry
        n = min(int(expected + 1e-9), max_n)
        # Keep the fractional tick for the next span, so slow rates still average out.
        self._carry = min(max(expected - n, 0.0), 1.0)
        if n == 0:
            return None, t_end
        self._remaining -= n
        return self._model.generate(t, t_end, n, open_idx), t_end


def _nifty50(catalog: InstrumentCatalog) -> list[str]:
    return [i.symbol for i in catalog.all() if "NIFTY50" in i.indices]
