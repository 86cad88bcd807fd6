"""NSE's end-of-day archive: the CM-UDiFF bhavcopy, one zip per trading day.

``{base}/content/cm/BhavCopy_NSE_CM_0_0_0_{YYYYMMDD}_F_0000.csv.zip`` holds one CSV
of every cash market instrument traded that day (published in the evening, IST). The
columns used: ``TradDt`` (the trading date), ``TckrSymb`` (symbol), ``SctySrs``
(series: ``EQ``, or ``BE``/``BZ`` for trade-for-trade), ``OpnPric``, ``HghPric``,
``LwPric``, ``ClsPric``, ``TtlTradgVol`` (shares) and ``TtlNbOfTxsExctd`` (trades).
It gives daily candles only. NSE publishes the bhavcopy in this format from 8 July 2024;
the files before it are in an older format that is not read, so a range starting earlier
is refused before any request.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from datetime import UTC, date, datetime, timedelta

from market_data_engine.downloads._http import DownloadError, Fetcher
from market_data_engine.downloads._pages import Fetched, Page
from shared.calendar import Calendar
from shared.contracts import CandleMsg, Timeframe

ARCHIVE_PATH = "/content/cm/BhavCopy_NSE_CM_0_0_0_{day:%Y%m%d}_F_0000.csv.zip"
SERIES = ("EQ", "BE", "BZ")
_PRICES = ("OpnPric", "HghPric", "LwPric", "ClsPric")
_COLUMNS = ("TradDt", "TckrSymb", "SctySrs", *_PRICES, "TtlTradgVol", "TtlNbOfTxsExctd")
TIMEFRAMES = (Timeframe.D1,)
FIRST_DAY = date(2024, 7, 8)
"""The first trading day NSE published a CM-UDiFF bhavcopy for."""


class NSEBhavcopy:
    """Daily candles of one NSE symbol from the bhavcopy of each trading day."""

    name = "nse"
    timeframe = Timeframe.D1
    timeframes = TIMEFRAMES
    earliest: date | None = FIRST_DAY

    def __init__(
        self,
        fetcher: Fetcher,
        base_url: str,
        symbol: str,
        timeframe: Timeframe,
        calendar: Calendar,
    ) -> None:
        if timeframe is not Timeframe.D1:
            raise DownloadError(
                f"NSE's end-of-day archive has daily candles only: use --timeframe 1d, "
                f"not {timeframe}"
            )
        self.fetcher = fetcher
        self.base_url = base_url.rstrip("/")
        self.symbol = symbol
        self.calendar = calendar

    def pages(self, start: datetime, end: datetime) -> list[Page]:
        """One page per session that opens in ``[start, end)`` and has closed by ``end``."""
        out = []
        day = start.astimezone(self.calendar.tz).date()
        while True:
            bounds = self.calendar.session_bounds(day)
            if bounds is not None:
                s_open, s_close = bounds
                if s_open >= end or s_close > end:
                    break
                if s_open >= start:
                    out.append(Page(s_open, s_close, 1))
            elif datetime.combine(day, datetime.min.time(), UTC) >= end:
                break
            day += timedelta(days=1)
        return out

    def url(self, day: date) -> str:
        return self.base_url + ARCHIVE_PATH.format(day=day)

    async def fetch(self, page: Page) -> Fetched:
        day = page.start.astimezone(self.calendar.tz).date()
        url = self.url(day)
        response = await self.fetcher.get(url)
        if response.status_code == 404:
            return Fetched(note=f"{day}: no bhavcopy at {url} (404; not published, or a closure)")
        rows = _rows(response.content, url)
        mine = [r for r in rows if r.get("TckrSymb") == self.symbol and r.get("SctySrs") in SERIES]
        if not mine:
            return Fetched(note=f"{day}: {self.symbol} is not in that day's bhavcopy")
        row = min(mine, key=lambda r: SERIES.index(r["SctySrs"]))  # EQ first
        if row["TradDt"] != day.isoformat():
            raise DownloadError(f"{url}: TradDt is {row['TradDt']!r}, expected {day}")
        return Fetched(candles=[self._candle(page, row, url)])

    def _candle(self, page: Page, row: dict[str, str], url: str) -> CandleMsg:
        try:
            o, h, lo, c = (float(row[name]) for name in _PRICES)
            volume = float(row["TtlTradgVol"])
            trades = int(float(row["TtlNbOfTxsExctd"] or 0))
        except (TypeError, ValueError):
            raise DownloadError(
                f"{url}: {self.symbol}'s row has a field that is not a number"
            ) from None
        prices = (o, h, lo, c, volume)
        if not all(math.isfinite(x) for x in prices) or min(o, h, lo, c) <= 0 or volume < 0:
            raise DownloadError(f"{url}: {self.symbol}'s row has a price <= 0 or a bad volume")
        if h < max(o, c, lo) or lo > min(o, c):
            raise DownloadError(f"{url}: {self.symbol}'s high or low does not bound its prices")
        return CandleMsg(
            symbol=self.symbol, timeframe=Timeframe.D1, start=page.start, end=page.end,
            open=o, high=h, low=lo, close=c, volume=volume, trades=trades,
        )  # fmt: skip


def _rows(content: bytes, url: str) -> list[dict[str, str]]:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if not names:
                raise DownloadError(f"{url}: the zip holds no CSV")
            text = archive.read(names[0]).decode("utf-8-sig")
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise DownloadError(f"{url}: not a bhavcopy zip ({exc})") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DownloadError(f"{url}: the bhavcopy lacks the column(s) {', '.join(missing)}")
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
