"""InfluxDB tick store over the v1-compatible HTTP API (``/write`` line protocol, ``/query``).

InfluxDB 1.x serves this API natively and 2.x/3.x through their v1
compatibility endpoints. Writes go into a bounded buffer that a background
task drains in large batches; while InfluxDB is away the buffer keeps the
newest ticks (dropping and counting the oldest) and drains when it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from shared.contracts import CandleMsg, TickMsg, Timeframe
from shared.tickstore._buffer import CandleBuffer, TickBuffer
from shared.tickstore._influx_http import InfluxHttp, TickStoreQueryError, WriteResult, where
from shared.tickstore._lineproto import (
    CANDLES,
    TICKS,
    TimestampSpreader,
    encode_candles,
    encode_ticks,
)
from shared.tickstore.base import (
    DEFAULT_QUERY_LIMIT,
    TickColumns,
    TickStoreUnavailable,
    clean_ticks,
    from_ns,
    latest_per_symbol,
)

log = logging.getLogger(__name__)

_CANDLE_FIELDS = ("o", "h", "l", "c", "v", "trades", "end_ns")
_ENCODE_IN_THREAD = 4_000  # ticks; smaller batches are cheaper to encode inline


class InfluxTickStore:
    """TickStore on InfluxDB: measurement ``ticks`` (tag symbol; price, qty) and ``candles``
    (tags symbol, timeframe; o, h, l, c, v, trades, end_ns; time = candle start).

    ``batch_size`` ticks per POST; the flusher runs every ``flush_interval`` seconds or
    as soon as a full batch waits. At most ``max_buffered_ticks`` are held while
    InfluxDB is away (about 32 bytes each); failed writes back off exponentially
    from ``min_retry_delay`` to ``max_retry_delay``. Auth: ``token`` (2.x/3.x) or
    ``username``/``password``.

    ``latest_tick`` answers from the ticks this store wrote itself; a symbol it does not
    write (the API process writes none) is read from InfluxDB again once what it holds is
    older than ``latest_ttl`` seconds, so quotes and marks move with the market.
    """

    def __init__(
        self,
        url: str,
        database: str = "algotrade",
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        retention_policy: str | None = None,
        batch_size: int = 20_000,
        flush_interval: float = 0.5,
        max_buffered_ticks: int = 2_000_000,
        max_buffered_candles: int = 200_000,
        timeout: float = 10.0,
        min_retry_delay: float = 0.1,
        max_retry_delay: float = 5.0,
        create_database: bool = True,
        latest_ttl: float = 1.0,
    ) -> None:
        self.http = InfluxHttp(
            url,
            database,
            username=username,
            password=password,
            token=token,
            retention_policy=retention_policy,
            timeout=timeout,
        )
        self.database = database
        self.batch_size = max(1, min(batch_size, max_buffered_ticks))
        self.flush_interval = flush_interval
        self.timeout = timeout
        self.min_retry_delay = min_retry_delay
        self.max_retry_delay = max_retry_delay
        self.create_database = create_database
        self._ticks = TickBuffer(max_buffered_ticks)
        self._candles = CandleBuffer(max_buffered_candles)
        self._spreader = TimestampSpreader()
        self.latest_ttl = latest_ttl
        self._latest: dict[str, tuple[int, float, float]] = {}
        self._latest_seen: dict[str, float] = {}  # symbol -> when its latest tick was known fresh
        self._latest_reads: dict[str, asyncio.Task[tuple[int, float, float] | None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._closing = False
        self._database_ready = False
        self._counts = {
            "written": 0,
            "written_candles": 0,
            "dropped_invalid": 0,
            "rejected": 0,
            "failed_writes": 0,
        }
        self._connected = False
        self._last_error: str | None = None

    # -- lifecycle -----------------------------------------------------------
    async def start(self) -> None:
        """Open the HTTP client, create the database if missing, start the flusher."""
        self._ensure_started()
        with contextlib.suppress(TickStoreUnavailable):
            await self._ensure_database()

    async def close(self) -> None:
        """Stop the flusher, try once to write what is buffered, close the client."""
        self._closing = True
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            # Let a write in progress finish (bounded by the HTTP timeout), then stop.
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.timeout + 1.0)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        await self.flush()
        if self._ticks.size or self._candles.size:
            log.warning(
                "tick store closed with %d ticks and %d candles unwritten",
                self._ticks.size,
                self._candles.size,
            )
        await self.http.aclose()

    async def __aenter__(self) -> InfluxTickStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- writes --------------------------------------------------------------
    async def write_ticks(
        self,
        symbols: npt.NDArray[Any],
        ts_ns: npt.NDArray[Any],
        prices: npt.NDArray[Any],
        qtys: npt.NDArray[Any],
    ) -> None:
        """Buffer a batch of ticks; the flusher writes them (never raises on an outage)."""
        cols, dropped = clean_ticks(symbols, ts_ns, prices, qtys)
        self._counts["dropped_invalid"] += dropped
        if len(cols) == 0:
            return
        self._remember_latest(cols)
        self._ticks.append(cols)
        self._ensure_started()
        if self._ticks.pending >= self.batch_size:
            self._wake.set()

    async def write_candles(self, candles: Sequence[CandleMsg]) -> None:
        """Buffer candles; a candle rewritten with the same (symbol, timeframe, start) replaces."""
        if not candles:
            return
        self._candles.extend(candles)
        self._ensure_started()

    async def flush(self) -> None:
        """Write everything buffered now, one attempt per batch; failures stay buffered."""
        await self._drain()

    # -- queries -------------------------------------------------------------
    async def query_ticks(
        self,
        symbol: str,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = DEFAULT_QUERY_LIMIT,
    ) -> TickColumns:
        """Ticks written to InfluxDB for ``symbol`` in ``[start, end)``, ascending."""
        if limit <= 0:  # InfluxQL reads LIMIT 0 as "no limit"
            return TickColumns.empty()
        cond = where({"symbol": symbol}, start, end)
        rows = await self.http.select_latest(TICKS, ("price", "qty"), cond, limit)
        if not rows:
            return TickColumns.empty()
        ts = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        price = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        qty = np.fromiter((r[2] or 0.0 for r in rows), dtype=np.float64, count=len(rows))
        return TickColumns.of_symbol(symbol, ts, price, qty)

    async def query_candles(
        self,
        symbol: str,
        timeframe: Timeframe,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = DEFAULT_QUERY_LIMIT,
    ) -> list[CandleMsg]:
        """Candles of (symbol, timeframe) starting in ``[start, end)``, ascending."""
        if limit <= 0:
            return []
        cond = where({"symbol": symbol, "timeframe": timeframe.value}, start, end)
        rows = await self.http.select_latest(CANDLES, _CANDLE_FIELDS, cond, limit)
        return [_candle(symbol, timeframe, row) for row in rows]

    async def latest_tick(self, symbol: str) -> TickMsg | None:
        """The newest tick of ``symbol``: written by this store, or read from InfluxDB.

        What was read is reused for ``latest_ttl`` seconds, then read again (one query per
        symbol however many callers wait). While InfluxDB is away the last known tick is
        answered (its ``ts`` tells its age); with none known, ``TickStoreUnavailable``.
        """
        known = self._latest.get(symbol)
        seen = self._latest_seen.get(symbol)
        if known is None or seen is None or time.monotonic() - seen > self.latest_ttl:
            reading = self._latest_reads.get(symbol)
            if reading is None:
                reading = asyncio.get_running_loop().create_task(self._read_latest(symbol))
                self._latest_reads[symbol] = reading
                reading.add_done_callback(lambda _: self._latest_reads.pop(symbol, None))
            try:
                known = await asyncio.shield(reading)
            except TickStoreUnavailable:
                known = self._latest.get(symbol)
                if known is None:
                    raise
        if known is None:
            return None
        ts, price, qty = known
        return TickMsg(symbol=symbol, ts=from_ns(ts), price=price, qty=qty)

    async def _read_latest(self, symbol: str) -> tuple[int, float, float] | None:
        """Read the newest stored tick of ``symbol``; keep whichever of it and ours is newer."""
        try:
            found = await self.query_ticks(symbol, limit=1)
        finally:
            # Also after a failure: an absent InfluxDB is asked again after the TTL, not per call.
            self._latest_seen[symbol] = time.monotonic()
        if len(found):
            stored = (int(found.ts_ns[0]), float(found.price[0]), float(found.qty[0]))
            old = self._latest.get(symbol)
            if old is None or stored[0] >= old[0]:
                self._latest[symbol] = stored
        return self._latest.get(symbol)

    async def ping(self) -> bool:
        """Does InfluxDB answer ``/ping`` now (readiness)?"""
        return await self.http.ping()

    def stats(self) -> dict[str, Any]:
        """Buffer and write counters (ticks unless the name says candles)."""
        return {
            "backend": "influx",
            "connected": self._connected,
            "buffered": self._ticks.size,
            "buffered_bytes": self._ticks.nbytes,
            "buffer_peak": self._ticks.peak,
            "max_buffered": self._ticks.max_ticks,
            "buffered_candles": self._candles.size,
            "shed": self._ticks.shed,
            "shed_candles": self._candles.shed,
            **self._counts,
            "last_error": self._last_error,
        }

    # -- background writing ----------------------------------------------------
    def _ensure_started(self) -> None:
        if self._task is None and not self._closing:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="influx-tickstore-flusher"
            )

    async def _run(self) -> None:
        delay = 0.0
        while not self._closing:
            # After a failure wait out the back-off (only closing cuts it short);
            # otherwise wake on the interval or when a full batch is waiting.
            event = self._stop if delay else self._wake
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), delay or self.flush_interval)
            self._wake.clear()
            if self._closing:
                return
            try:
                ok = await self._drain()
            except Exception:  # the flusher must outlive any one bad batch
                log.exception("tick store flush failed")
                ok = False
            delay = 0.0 if ok else min(self.max_retry_delay, max(self.min_retry_delay, delay * 2))

    async def _drain(self) -> bool:
        """Write batches until the buffers are empty; False at the first failed write."""
        async with self._lock:
            if self._last_error is not None and not self._connected and not await self.http.ping():
                # Still down: skip encoding batches that cannot be sent.
                self._counts["failed_writes"] += 1
                return False
            while (taken := self._ticks.take(self.batch_size)) is not None:
                cols, prepared = taken
                outcome = "retry"
                try:
                    cols, body = await self._prepare(cols, prepared)
                    outcome = await self._write(body)
                finally:  # also on cancellation: nothing taken is lost
                    if outcome == "retry":
                        self._ticks.put_back(cols)
                    else:
                        self._ticks.done()
                if outcome == "retry":
                    return False
                if outcome == "ok":
                    self._counts["written"] += len(cols)
            while candles := self._candles.take(self.batch_size):
                outcome = "retry"
                try:
                    outcome = await self._write(encode_candles(candles))
                finally:
                    if outcome == "retry":
                        self._candles.put_back(candles)
                    else:
                        self._candles.done()
                if outcome == "retry":
                    return False
                if outcome == "ok":
                    self._counts["written_candles"] += len(candles)
        return True

    async def _prepare(self, cols: TickColumns, prepared: bool) -> tuple[TickColumns, bytes]:
        def work() -> tuple[TickColumns, bytes]:
            ready = cols if prepared else self._spreader.apply(cols)
            return ready, encode_ticks(ready)

        if len(cols) < _ENCODE_IN_THREAD:
            return work()
        # Polars releases the GIL: the event loop keeps serving while a batch is encoded.
        return await asyncio.to_thread(work)

    async def _write(self, body: bytes) -> str:
        """POST one body; counts and logs the outcome (``ok``, ``retry`` or ``rejected``)."""
        if not self._database_ready:
            try:
                await self._ensure_database()
            except TickStoreUnavailable as exc:
                return self._failed(WriteResult("retry", str(exc)))
        result = await self.http.write(body)
        if result.outcome == "ok":
            self._connected = True
        elif result.outcome == "rejected":
            self._counts["rejected"] += result.rejected_points
            self._last_error = result.error
            log.error("InfluxDB rejected points: %s", result.error)
        else:
            self._database_ready = not result.database_missing
            self._failed(result)
        return result.outcome

    def _failed(self, result: WriteResult) -> str:
        if self._connected or self._last_error != result.error:
            log.warning("InfluxDB write failed, keeping data buffered: %s", result.error)
        self._connected = False
        self._last_error = result.error
        self._counts["failed_writes"] += 1
        return "retry"

    async def _ensure_database(self) -> None:
        if self.create_database:
            try:
                await self.http.create_database()
            except TickStoreQueryError as exc:
                # InfluxDB 2.x/3.x map databases to buckets and refuse CREATE DATABASE
                # through the v1 API; the bucket is then expected to exist already.
                log.warning("could not create InfluxDB database %r: %s", self.database, exc)
        self._database_ready = True

    def _remember_latest(self, cols: TickColumns) -> None:
        latest, seen, now = self._latest, self._latest_seen, time.monotonic()
        for sym, row in latest_per_symbol(cols).items():
            old = latest.get(sym)
            if old is None or row[0] >= old[0]:
                latest[sym] = row
            seen[sym] = now  # a tick this process just wrote is as fresh as it gets


def _candle(symbol: str, timeframe: Timeframe, row: list[Any]) -> CandleMsg:
    ts, o, h, low, c, v, trades, end_ns = row
    return CandleMsg(
        symbol=symbol,
        timeframe=timeframe,
        start=from_ns(int(ts)),
        end=from_ns(int(end_ns)),
        open=float(o),
        high=float(h),
        low=float(low),
        close=float(c),
        volume=float(v),
        trades=int(trades),
    )
