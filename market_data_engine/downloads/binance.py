"""Binance spot klines (``GET /api/v3/klines``): 1m or 1d candles of one symbol.

A request asks for up to 1,000 klines from ``startTime`` to ``endTime`` (both in ms,
both inclusive); each kline is ``[open time ms, "open", "high", "low", "close",
"volume", close time ms, "quote volume", trades, "taker buy base", "taker buy quote",
"ignore"]``. A request weighs 2 of the 6,000 weight a minute an address may use;
``X-MBX-USED-WEIGHT-1M`` reports what is used, and past 90 % the download waits for
the next minute. 429 comes with ``Retry-After``; an address that keeps going gets 418.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from market_data_engine.candles.buckets import MINUTE_NS, SessionTable, to_ns
from market_data_engine.candles.history import MinuteBars
from market_data_engine.downloads._http import DownloadError, Fetcher
from market_data_engine.downloads._pages import Fetched, Page
from shared.calendar import Calendar
from shared.contracts import CandleMsg, Timeframe

KLINES_PATH = "/api/v3/klines"
PAGE_SIZE = 1000
WEIGHT_LIMIT_1M = 6000
_PAUSE_AT = 0.9
_STEPS = {Timeframe.M1: timedelta(minutes=1), Timeframe.D1: timedelta(days=1)}
TIMEFRAMES = tuple(_STEPS)


class BinanceKlines:
    """Closed 1m or 1d klines of one symbol, in pages of 1,000."""

    name = "binance"
    timeframes = TIMEFRAMES
    earliest: date | None = None  # each pair's listing: Binance answers from there on

    def __init__(
        self,
        fetcher: Fetcher,
        base_url: str,
        symbol: str,
        timeframe: Timeframe,
        calendar: Calendar,
    ) -> None:
        if timeframe not in _STEPS:
            raise DownloadError(
                f"binance serves {', '.join(TIMEFRAMES)} here, not {timeframe}; "
                "5m, 15m and 1h candles are rolled up from 1m"
            )
        self.fetcher = fetcher
        self.url = base_url.rstrip("/") + KLINES_PATH
        self.symbol = symbol
        self.timeframe = timeframe
        self.calendar = calendar
        self.step = _STEPS[timeframe]

    def pages(self, start: datetime, end: datetime) -> list[Page]:
        first, last = _floor(start, self.step), _floor(end, self.step)
        out = []
        a = first
        while a < last:
            b = min(a + self.step * PAGE_SIZE, last)
            out.append(Page(a, b, int((b - a) / self.step)))
            a = b
        return out

    async def fetch(self, page: Page) -> Fetched:
        params = {
            "symbol": self.symbol,
            "interval": self.timeframe.value,
            "startTime": _ms(page.start),
            "endTime": _ms(page.end) - 1,
            "limit": PAGE_SIZE,
        }
        response = await self.fetcher.get(self.url, params)
        self._mind_weight(response.headers.get("X-MBX-USED-WEIGHT-1M"))
        if response.status_code == 404:
            raise DownloadError(f"binance has no {self.url} (404): is the base URL right?")
        try:
            rows = response.json()
        except ValueError:
            rows = None
        if not isinstance(rows, list):
            raise DownloadError(f"binance answered {response.request.url} with no kline list")
        step_ms = int(self.step.total_seconds() * 1000)
        opens, values, trades = _decode(rows, step_ms, _ms(page.start), _ms(page.end), page)
        if self.timeframe is Timeframe.M1:
            return Fetched(bars=self._bars(opens, values, trades))
        return Fetched(candles=self._days(opens, values, trades))

    def _mind_weight(self, used: str | None) -> None:
        try:
            weight = int(used) if used is not None else 0
        except ValueError:
            return
        if weight >= WEIGHT_LIMIT_1M * _PAUSE_AT:
            # The weight window is the clock minute: wait for the next one.
            self.fetcher.pacer.pause_until(time.monotonic() + 61 - time.time() % 60)

    def _bars(self, opens: np.ndarray, values: np.ndarray, trades: np.ndarray) -> MinuteBars:
        start = opens * 1_000_000
        _inside, s_open, s_close = SessionTable(self.calendar).lookup(start)
        return MinuteBars(
            symbol=self.symbol,
            start=start,
            end=np.minimum(start + MINUTE_NS, s_close),
            s_open=s_open,
            s_close=s_close,
            open=values[:, 0],
            high=values[:, 1],
            low=values[:, 2],
            close=values[:, 3],
            volume=values[:, 4],
            trades=trades,
        )

    def _days(self, opens: np.ndarray, values: np.ndarray, trades: np.ndarray) -> list[CandleMsg]:
        out = []
        for i, ms in enumerate(opens.tolist()):
            day = datetime.fromtimestamp(ms / 1000, tz=UTC)
            o, h, lo, c, v = values[i].tolist()
            out.append(
                CandleMsg(
                    symbol=self.symbol, timeframe=Timeframe.D1, start=day,
                    end=day + timedelta(days=1), open=o, high=h, low=lo, close=c,
                    volume=round(v, 8), trades=int(trades[i]),
                )
            )  # fmt: skip
        return out


def _decode(
    rows: list[Any], step_ms: int, lo_ms: int, hi_ms: int, page: Page
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Open times, [open, high, low, close, volume] and trade counts; checked."""
    opens: list[int] = []
    values: list[list[float]] = []
    trades: list[int] = []
    where = f"binance klines from {page.start:%Y-%m-%d %H:%M} UTC"
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) < 9:
            raise DownloadError(f"{where}: kline {i} is not a kline array: {row!r:.80}")
        try:
            ms = int(row[0])
            o, h, lo, c, v = (float(x) for x in row[1:6])
            n = int(row[8])
        except (TypeError, ValueError):
            raise DownloadError(f"{where}: kline {i} has a field that is not a number") from None
        if not all(math.isfinite(x) for x in (o, h, lo, c, v)) or min(o, h, lo, c) <= 0 or v < 0:
            raise DownloadError(f"{where}: kline {i} has a price <= 0 or a negative volume")
        if h < max(o, c, lo) or lo > min(o, c):
            raise DownloadError(f"{where}: kline {i} has a high below or a low above its prices")
        if ms % step_ms or not lo_ms <= ms < hi_ms or (opens and ms <= opens[-1]):
            raise DownloadError(f"{where}: kline {i} opens at {ms}, outside the page or order")
        opens.append(ms)
        values.append([o, h, lo, c, v])
        trades.append(n)
    return (
        np.asarray(opens, dtype=np.int64),
        np.asarray(values, dtype=np.float64).reshape(-1, 5),
        np.asarray(trades, dtype=np.int64),
    )


def _floor(ts: datetime, step: timedelta) -> datetime:
    seconds = int(step.total_seconds())
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def _ms(ts: datetime) -> int:
    return to_ns(ts) // 1_000_000
