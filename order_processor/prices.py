"""Last traded prices: fed by the tick stream, falling back to the tick store on a miss."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from order_processor.domain.money import to_decimal
from shared.tickstore import TickStore

log = logging.getLogger(__name__)


class LastPrices:
    """Symbol -> last price (Decimal). Prices only move forward in time.

    A process fed by the tick stream (the order processor) keeps what it reads
    from the store; a process that is not (the API) sets ``remember=False`` so
    that every read asks the store and no price goes stale.
    """

    STORE_RETRY_S = 5.0  # after a failed read, ask the store again this much later

    def __init__(self, tickstore: TickStore | None = None, *, remember: bool = True) -> None:
        self.tickstore = tickstore
        self.remember = remember
        self._prices: dict[str, tuple[datetime, Decimal]] = {}
        self._store_away_until = 0.0
        self._reading: dict[str, asyncio.Future[Decimal | None]] = {}

    def update(self, symbol: str, ts: datetime, price: float | Decimal) -> Decimal:
        """Record a tick's price unless an older tick arrives late; returns the Decimal."""
        value = to_decimal(price)
        known = self._prices.get(symbol)
        if known is None or ts >= known[0]:
            self._prices[symbol] = (ts, value)
        return value

    def get(self, symbol: str) -> Decimal | None:
        known = self._prices.get(symbol)
        return known[1] if known is not None else None

    async def fetch(self, symbols: Iterable[str]) -> dict[str, Decimal]:
        """Last prices of ``symbols``; symbols with no price anywhere are left out."""
        out: dict[str, Decimal] = {}
        for symbol in dict.fromkeys(symbols):
            price = self.get(symbol)
            if price is None and self.tickstore is not None:
                price = await self._from_store(symbol)
            if price is not None:
                out[symbol] = price
        return out

    async def _from_store(self, symbol: str) -> Decimal | None:
        """One read per symbol at a time: concurrent callers share the answer."""
        if time.monotonic() < self._store_away_until:
            return None
        reading = self._reading.get(symbol)
        if reading is not None:
            return await asyncio.shield(reading)
        reading = self._reading[symbol] = asyncio.get_running_loop().create_future()
        try:
            price = await self._read_store(symbol)  # never raises but for cancellation
            reading.set_result(price)
            return price
        finally:
            del self._reading[symbol]
            if not reading.done():
                reading.cancel()

    async def _read_store(self, symbol: str) -> Decimal | None:
        assert self.tickstore is not None
        try:
            tick = await self.tickstore.latest_tick(symbol)
        except Exception as exc:  # the store being away means no price: checks fail closed
            # Do not make every order wait on a store that is down: skip it for a while.
            self._store_away_until = time.monotonic() + self.STORE_RETRY_S
            log.warning("no last price for %s from the tick store: %r", symbol, exc)
            return None
        if tick is None:
            return None
        if not self.remember:
            return to_decimal(tick.price)
        return self.update(symbol, tick.ts, tick.price)
