"""Live trades from Binance's public WebSocket streams.

The adapter keeps one connection per feed and survives the network: it reconnects with
capped exponential back-off and jitter, treats a silent connection (no trade for
``stale_after_s``) as broken, and subscribes again on every new connection. Trades that
arrive within ``batch_window_s`` of each other are decoded into one ``TickBatch``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidURI, WebSocketException

from market_data_engine.feeds._binance_protocol import (
    TradeDecoder,
    combined_url,
    raw_url,
    subscribe_frame,
)
from market_data_engine.feeds.base import Feed
from market_data_engine.ticks import TickBatch

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "wss://stream.binance.com:9443"


@dataclass
class BinanceFeedStats:
    """Counters an operator (or a health check) reads to judge the live connection."""

    connects: int = 0
    reconnects: int = 0
    stale_events: int = 0
    ticks: int = 0
    duplicates: int = 0
    decode_errors: int = 0
    last_error: str | None = None


class _Stale(Exception):
    """No trade within the staleness threshold."""


def backoff_delay(attempt: int, *, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Delay before reconnect attempt ``attempt`` (0-based): capped doubling, equal jitter.

    Half of the step is fixed and half random, so a fleet of clients that lost the same
    server spreads out without any of them retrying immediately.
    """
    step = min(max_s, initial_s * 2.0 ** min(attempt, 62))
    return step / 2 + rng.uniform(0, step / 2)


class BinanceTradeFeed(Feed):
    """Trades of ``symbols`` from Binance (or any server speaking its stream protocol).

    ``subscribe=False`` uses the combined-stream URL, which carries the subscription, so a
    reconnect resubscribes by construction; ``subscribe=True`` connects to the raw ``/ws``
    endpoint and sends a SUBSCRIBE frame on every connection (better for long symbol
    lists, which would make the URL too long). ``on_stale`` is called with the feed each
    time the connection is found silent.
    """

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        base_url: str = DEFAULT_BASE_URL,
        subscribe: bool = False,
        stale_after_s: float = 10.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        batch_window_s: float = 0.005,
        max_batch: int = 10_000,
        open_timeout_s: float = 10.0,
        on_stale: Callable[[BinanceTradeFeed], None] | None = None,
        connect_options: dict[str, Any] | None = None,
        seed: int | None = None,
        name: str = "binance",
    ) -> None:
        if not symbols:
            raise ValueError("a Binance feed needs at least one symbol")
        super().__init__(name, [s.upper() for s in symbols])
        self.base_url = base_url
        self.subscribe = subscribe
        self.stale_after_s = stale_after_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.batch_window_s = batch_window_s
        self.max_batch = max_batch
        self.open_timeout_s = open_timeout_s
        self.on_stale = on_stale
        self.stats = BinanceFeedStats()
        # A dead peer should not hold a reconnect for websockets' default 10 s close timeout.
        self._connect_options = {"close_timeout": 2.0, **(connect_options or {})}
        self._rng = random.Random(seed)  # jitter only, not security
        self._decoder = TradeDecoder()
        self._ws: ClientConnection | None = None
        self._request_id = 0

    @property
    def url(self) -> str:
        return (
            raw_url(self.base_url) if self.subscribe else combined_url(self.base_url, self.symbols)
        )

    async def _close(self) -> None:
        ws = self._ws
        if ws is not None:
            await ws.close()

    def _stream(self) -> AsyncGenerator[TickBatch, None]:
        return self._run()

    async def _run(self) -> AsyncGenerator[TickBatch, None]:
        attempt = 0
        while not self.stopping:
            try:
                async with connect(
                    self.url, open_timeout=self.open_timeout_s, **self._connect_options
                ) as ws:
                    self._ws = ws
                    self.stats.connects += 1
                    if self.subscribe:
                        self._request_id += 1
                        await ws.send(subscribe_frame(self.symbols, self._request_id))
                    async for batch in self._receive(ws):
                        attempt = 0  # the connection works: the next failure starts afresh
                        yield batch
            except _Stale:
                self._report_stale()
            except InvalidURI:
                raise  # a configuration error: retrying cannot fix it
            except (WebSocketException, OSError, TimeoutError) as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                if not self.stopping:
                    log.warning("%s: connection lost (%s)", self.name, self.stats.last_error)
            finally:
                self._ws = None
            if self.stopping:
                return
            delay = backoff_delay(
                attempt, initial_s=self.backoff_initial_s, max_s=self.backoff_max_s, rng=self._rng
            )
            attempt += 1
            self.stats.reconnects += 1
            log.info("%s: reconnecting in %.2fs (attempt %d)", self.name, delay, attempt)
            if await self._sleep(delay):
                return

    async def _receive(self, ws: ClientConnection) -> AsyncGenerator[TickBatch, None]:
        """Batches of trades from one connection; raises ``_Stale`` when it goes silent."""
        decoder = self._decoder
        last_tick = time.monotonic()
        while True:
            wait = self.stale_after_s - (time.monotonic() - last_tick)
            frame = await _recv_within(ws, wait)
            if frame is None:
                raise _Stale
            if not decoder.add(frame):
                self._sync_counters()
                continue
            # Gather what arrives in the next few milliseconds into the same batch.
            window_end = time.monotonic() + self.batch_window_s
            while len(decoder) < self.max_batch:
                frame = await _recv_within(ws, window_end - time.monotonic())
                if frame is None:
                    break
                decoder.add(frame)
            last_tick = time.monotonic()
            batch = decoder.flush()
            self.stats.ticks += len(batch)
            self._sync_counters()
            yield batch

    def _sync_counters(self) -> None:
        self.stats.duplicates = self._decoder.duplicates
        self.stats.decode_errors = self._decoder.decode_errors

    def _report_stale(self) -> None:
        self.stats.stale_events += 1
        log.warning(
            "%s: no trade for %.1fs, treating the connection as dead and reconnecting",
            self.name,
            self.stale_after_s,
        )
        if self.on_stale is not None:
            try:
                self.on_stale(self)
            except Exception:
                log.exception("%s: on_stale callback failed", self.name)


async def _recv_within(ws: ClientConnection, seconds: float) -> str | bytes | None:
    """The next frame, or None if none arrives within ``seconds``."""
    if seconds <= 0:
        return None
    try:
        async with asyncio.timeout(seconds):
            return await ws.recv()
    except TimeoutError:
        return None
