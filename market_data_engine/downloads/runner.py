"""Downloading history page by page into the tick store; resumable and idempotent.

Every page of the range is first looked up in the store: a page whose candles are all
stored is skipped (with ``replace``, fetched again). A fetched page is checked in full
and then stored whole (1m pages with the 5m/15m/1h/1d buckets they complete) and
flushed before the next one is fetched, so an error or an interruption leaves only
whole pages behind and running the download again fetches what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from market_data_engine.candles.buckets import to_ns
from market_data_engine.downloads._http import DownloadError
from market_data_engine.downloads._pages import Fetched, Page, Source
from market_data_engine.imports import store_minutes
from shared.calendar import Calendar
from shared.contracts import Timeframe
from shared.tickstore import TickStore, from_ns

Progress = Callable[[int, int], None]
"""Called with (pages done, pages in all) after each page."""


@dataclass
class DownloadReport:
    source: str
    symbol: str
    timeframe: Timeframe
    pages: int = 0
    fetched: int = 0
    """Pages requested from the source (the others were stored already)."""
    candles: int = 0
    """Candles of the timeframe stored."""
    rolled_up: int = 0
    """5m/15m/1h/1d candles stored from downloaded 1m candles."""
    first: datetime | None = None
    last: datetime | None = None
    """Start of the first and the last candle stored."""
    notes: list[str] = field(default_factory=list)


async def download(
    store: TickStore,
    source: Source,
    calendar: Calendar,
    symbol: str,
    start: datetime,
    end: datetime,
    *,
    replace: bool = False,
    progress: Progress | None = None,
) -> DownloadReport:
    """Fetch and store the closed candles of ``symbol`` in ``[start, end)`` not yet stored."""
    if start >= end:
        raise DownloadError(f"the range is empty: {start.isoformat()} is not before {end}")
    report = DownloadReport(source.name, symbol, source.timeframe)
    pages = source.pages(start, end)
    report.pages = len(pages)
    todo = [replace or not await _complete(store, symbol, source.timeframe, p) for p in pages]
    for i, page in enumerate(pages):
        if todo[i]:
            got = await source.fetch(page)
            report.fetched += 1
            until = _settled_until(pages, todo, i)
            report.rolled_up += await _store(store, calendar, got, until=until)
            _count(report, got)
        if progress is not None:
            progress(i + 1, len(pages))
    return report


async def _complete(store: TickStore, symbol: str, timeframe: Timeframe, page: Page) -> bool:
    stored = await store.query_candles(
        symbol, timeframe, page.start, page.end, limit=page.expected + 1
    )
    return len(stored) >= page.expected


def _settled_until(pages: list[Page], todo: list[bool], i: int) -> datetime:
    """Where the stored minutes are complete after page ``i``: its end, or the end of the
    run of already stored pages that follows it (their buckets straddling the edge are
    complete once page ``i`` is in)."""
    j = i + 1
    while j < len(pages) and not todo[j]:
        j += 1
    return pages[j - 1].end


async def _store(store: TickStore, calendar: Calendar, got: Fetched, *, until: datetime) -> int:
    """Store a page; returns how many candles were rolled up from its minutes."""
    if got.bars is not None:
        return await store_minutes(store, calendar, got.bars, until_ns=to_ns(until))
    if got.candles:
        await store.write_candles(got.candles)
        await store.flush()
    return 0


def _count(report: DownloadReport, got: Fetched) -> None:
    if got.note:
        report.notes.append(got.note)
    if not len(got):
        return
    report.candles += len(got)
    if got.bars is not None:
        first, last = from_ns(int(got.bars.start[0])), from_ns(int(got.bars.start[-1]))
    else:
        first, last = got.candles[0].start, got.candles[-1].start
    report.first = report.first or first
    report.last = last
