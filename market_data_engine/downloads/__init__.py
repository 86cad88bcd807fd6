"""History downloaded from public sources into the tick store (``algotrade data download``).

Sources: Binance's public klines endpoint (crypto, 1m or 1d) and NSE's end-of-day
bhavcopy archive (NSE equities, 1d). See docs/market-data-feeds.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from market_data_engine.downloads._http import DownloadError, Fetcher, Pacer
from market_data_engine.downloads._pages import Fetched, Page, Source
from market_data_engine.downloads.binance import BinanceKlines
from market_data_engine.downloads.nse import NSEBhavcopy
from market_data_engine.downloads.runner import DownloadReport, Progress, download
from shared.calendar import Calendar
from shared.contracts import Timeframe

EXCHANGES: dict[str, tuple[str, type[BinanceKlines] | type[NSEBhavcopy]]] = {
    "binance": ("BINANCE", BinanceKlines),
    "nse": ("NSE", NSEBhavcopy),
}
"""Source name -> (the catalog exchange its symbols are listed on, the source class)."""

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) algotrade-history/1.0"
# NSE's archive refuses clients that do not look like a browser.


@dataclass(frozen=True, slots=True)
class SourceOptions:
    base_url: str
    requests_per_second: float
    max_retry_wait: float


def make_source(
    exchange: str,
    client: httpx.AsyncClient,
    options: SourceOptions,
    symbol: str,
    timeframe: Timeframe,
    calendar: Calendar,
) -> Source:
    """The source of ``exchange`` (``binance`` or ``nse``) for one symbol and timeframe."""
    _, cls = EXCHANGES[exchange]
    fetcher = Fetcher(
        client,
        Pacer(options.requests_per_second),
        source=exchange,
        max_retry_wait=options.max_retry_wait,
    )
    source: Source = cls(fetcher, options.base_url, symbol, timeframe, calendar)
    return source


def http_client(timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=False
    )


__all__ = [
    "EXCHANGES",
    "BinanceKlines",
    "DownloadError",
    "DownloadReport",
    "Fetched",
    "NSEBhavcopy",
    "Page",
    "Progress",
    "Source",
    "SourceOptions",
    "download",
    "http_client",
    "make_source",
]
