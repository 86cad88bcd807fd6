"""``algotrade data``: market data the platform did not record itself.

``download`` fetches closed candles from a public source (Binance klines, NSE's
bhavcopy archive) page by page into the same store; see market_data_engine.downloads.
``import`` reads a CSV or Parquet file of 1m candles of one symbol, checks all of it,
and stores the candles and their 5m/15m/1h/1d roll-ups where the candle history API,
the quotes and the strategies read them (the tick store: local files in the embedded
profile, InfluxDB in the distributed one). See docs/market-data-feeds.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from algotrade._typer import Command, Json, typer_app
from algotrade.console import EXIT_REFUSED, fail, print_json, run, settings_of

if TYPE_CHECKING:
    from algotrade.context import CliContext
    from market_data_engine.downloads import DownloadReport, SourceOptions
    from market_data_engine.imports import ImportReport
    from shared.config import Settings
    from shared.tickstore import TickStore

app = typer_app(
    name="data",
    help="Import or download market data into the tick store.",
    no_args_is_help=True,
)


@app.command("import", cls=Command)
def import_file(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="CSV or Parquet with the columns timestamp,open,high,low,close,volume "
            "(timestamp: ISO-8601 with an offset, the start of each 1m candle).",
        ),
    ],
    symbol: Annotated[
        str, typer.Option(metavar="SYMBOL", help="The instrument the candles are of.")
    ],
    as_json: Json = False,
) -> None:
    """Import 1m candles of one symbol and their roll-ups.

    The whole file is checked first; a problem is reported with its line and column and
    nothing is stored. Importing the same file again changes nothing. With the embedded
    profile, stop `algotrade run` first: the running platform keeps its own copy of the
    store and writes it back when it stops.
    """
    from market_data_engine.imports import MalformedFile, import_minutes
    from shared.instruments import load_catalog

    async def work(cli: CliContext) -> ImportReport:
        report = await import_minutes(cli.tickstore, load_catalog(), file, symbol, cli.clock.now())
        await refresh_windows(cli.settings, cli.tickstore, report.symbol)
        return report

    try:
        report = run(ctx, work, as_json=as_json)
    except MalformedFile as exc:
        fail(str(exc), code="malformed_file", as_json=as_json)
    if as_json:
        print_json(
            {
                "symbol": report.symbol,
                "minutes": report.minutes,
                "rolled_up": report.rolled_up,
                "first": report.first.isoformat(),
                "last": report.last.isoformat(),
            }
        )
        return
    typer.echo(
        f"imported {report.minutes} 1m candles of {report.symbol} "
        f"({report.first:%Y-%m-%d %H:%M} to {report.last:%Y-%m-%d %H:%M} UTC) "
        f"and {report.rolled_up} 5m/15m/1h/1d candles"
    )


class Exchange(StrEnum):
    binance = "binance"
    nse = "nse"


_DEFAULT_TIMEFRAME = {Exchange.binance: "1m", Exchange.nse: "1d"}


@app.command("download", cls=Command)
def download_history(
    ctx: typer.Context,
    exchange: Annotated[
        Exchange,
        typer.Option(help="binance: public klines (1m or 1d); nse: the bhavcopy archive (1d)."),
    ],
    symbol: Annotated[str, typer.Option(metavar="SYMBOL", help="A symbol of the catalog.")],
    start: Annotated[
        str,
        typer.Option(
            "--from",
            metavar="WHEN",
            help="Start: a date (UTC midnight) or an ISO-8601 date and time (UTC unless it "
            "has an offset).",
        ),
    ],
    end: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="WHEN",
            help="End, excluded; a date means the end of that day. Default: now.",
        ),
    ] = None,
    timeframe: Annotated[
        str | None,
        typer.Option(metavar="TF", help="1m or 1d (default: 1m for binance, 1d for nse)."),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Fetch and overwrite candles already stored.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Download closed candles of one symbol from a public source into the tick store.

    Pages (1,000 klines, or one trading day) are checked in full and stored whole, with the
    5m/15m/1h/1d candles that downloaded 1m candles complete. Pages already stored are
    skipped, so running the command again continues an interrupted download and
    duplicates nothing. With the embedded profile, stop `algotrade run` first.
    """
    from market_data_engine.downloads import (
        EXCHANGES,
        DownloadError,
        download,
        http_client,
        make_source,
    )
    from shared.contracts import Timeframe
    from shared.instruments import UnknownInstrument, load_catalog

    settings = settings_of(ctx)
    catalog = load_catalog()
    try:
        instrument = catalog.get(symbol.strip().upper())
    except UnknownInstrument as exc:
        fail(str(exc), code="unknown_instrument", as_json=as_json)
    listed_on = EXCHANGES[exchange.value][0]
    if instrument.exchange != listed_on:
        fail(
            f"{instrument.symbol} is listed on {instrument.exchange}, not {listed_on}",
            code="wrong_exchange",
            as_json=as_json,
        )
    listed_on, source_class = EXCHANGES[exchange.value]
    tf_text = timeframe or _DEFAULT_TIMEFRAME[exchange]
    served = [t.value for t in source_class.timeframes]
    if tf_text not in served:
        fail(
            f"{exchange.value} downloads {' and '.join(served)} candles, not {tf_text!r}"
            + ("; 5m, 15m and 1h are rolled up from 1m" if "1m" in served else ""),
            code="bad_timeframe",
            as_json=as_json,
        )
    tf = Timeframe(tf_text)
    now = datetime.now(UTC)
    try:
        first = parse_when(start, "--from")
        last = parse_when(end, "--to", end=True) if end else now
    except ValueError as exc:
        fail(str(exc), code="bad_range", as_json=as_json)
    calendar = catalog.calendar(instrument.symbol)
    problem = range_problem(first, last, now) or before_source(
        exchange.value, source_class.earliest, first.astimezone(calendar.tz).date()
    )
    if problem:
        fail(problem, code="bad_range", as_json=as_json)
    options = _source_options(settings, exchange)

    async def work(cli: CliContext) -> DownloadReport:
        async with http_client(settings.download_timeout_seconds) as client:
            source = make_source(exchange.value, client, options, instrument.symbol, tf, calendar)
            with _progress_bar(f"{instrument.symbol} {tf}", hidden=as_json) as progress:
                report = await download(
                    cli.tickstore, source, calendar, instrument.symbol, first, last,
                    replace=replace, progress=progress,
                )  # fmt: skip
        if report.fetched:
            await refresh_windows(settings, cli.tickstore, instrument.symbol)
        return report

    try:
        report = run(ctx, work, as_json=as_json)
    except DownloadError as exc:
        fail(str(exc), code="download_failed", as_json=as_json, exit_code=EXIT_REFUSED)
    _print_download(report, as_json=as_json)


async def refresh_windows(settings: Settings, store: TickStore, symbol: str) -> None:
    """Distributed profile: merge the stored candles of ``symbol`` into the Redis candle
    cache the strategy windows are read from, so new subscriptions get the history now.
    (The embedded profile's cache lives in `algotrade run`, which fills it at start.)
    Redis being away costs only that: the candles are stored, and the market data engine
    merges them into the cache when it next starts."""
    from redis.exceptions import RedisError

    from market_data_engine.backfill import warm_candle_cache
    from shared.candle_cache_redis import RedisCandleCache
    from shared.config import Profile
    from shared.redis_client import create_redis_from_settings

    if settings.profile is not Profile.DISTRIBUTED:
        return
    client = create_redis_from_settings(settings)
    try:
        await warm_candle_cache(store, RedisCandleCache(client), [symbol])
    except (RedisError, OSError) as exc:
        typer.echo(
            f"warning: stored, but the strategy windows' candle cache (Redis) was not "
            f"updated ({exc}); the market data engine merges it when it next starts",
            err=True,
        )
    finally:
        await client.aclose()


def parse_when(text: str, option: str, *, end: bool = False) -> datetime:
    """A date (UTC midnight; as an end, the midnight after it) or an ISO-8601 date-time."""
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        midnight = datetime.combine(day, datetime.min.time(), UTC)
        return midnight + timedelta(days=1) if end else midnight
    try:
        ts = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise ValueError(f"{option}: {text!r} is not an ISO-8601 date or date and time") from None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def range_problem(first: datetime, last: datetime, now: datetime) -> str | None:
    if first >= now:
        return f"--from {first.isoformat()} is in the future"
    if last > now + timedelta(days=1) or (last > now and first >= last):
        return f"--to {last.isoformat()} is in the future"
    if first >= last:
        return f"the range is inverted or empty: --from {first.isoformat()} is not before --to"
    return None


def before_source(source: str, earliest: date | None, first_day: date) -> str | None:
    """Why a range starting on ``first_day`` (the exchange's date) is one ``source`` cannot
    serve, or None."""
    if earliest is None or first_day >= earliest:
        return None
    return (
        f"--from {first_day} is before {earliest}: {source} history is read from {earliest} "
        f"on (see docs/market-data-feeds.md); use --from {earliest} or later"
    )


def _source_options(settings: Settings, exchange: Exchange) -> SourceOptions:
    from market_data_engine.downloads import SourceOptions

    if exchange is Exchange.binance:
        url, rate = settings.download_binance_url, settings.download_binance_requests_per_second
    else:
        url, rate = settings.download_nse_url, settings.download_nse_requests_per_second
    return SourceOptions(url, rate, settings.download_max_retry_wait_seconds)


@contextmanager
def _progress_bar(label: str, *, hidden: bool) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar of pages on stderr (none with --json or off a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(
        f"[bold]{label}[/]",
        BarColumn(),
        MofNCompleteColumn(),
        "pages",
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=hidden,
        transient=True,
    )
    task = bar.add_task("download", total=None)

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield advance


def _print_download(report: DownloadReport, *, as_json: bool) -> None:
    span = (
        f"{report.first:%Y-%m-%d %H:%M} to {report.last:%Y-%m-%d %H:%M} UTC"
        if report.first and report.last
        else None
    )
    if as_json:
        print_json(
            {
                "source": report.source,
                "symbol": report.symbol,
                "timeframe": report.timeframe.value,
                "pages": report.pages,
                "fetched": report.fetched,
                "candles": report.candles,
                "rolled_up": report.rolled_up,
                "first": report.first.isoformat() if report.first else None,
                "last": report.last.isoformat() if report.last else None,
                "notes": report.notes,
            }
        )
        return
    stored = report.pages - report.fetched
    text = (
        f"downloaded {report.candles} {report.timeframe} candles of {report.symbol} "
        f"from {report.source}" + (f" ({span})" if span else "")
    )
    if report.rolled_up:
        text += f" and stored {report.rolled_up} 5m/15m/1h/1d candles rolled up from them"
    text += f"; {report.fetched} of {report.pages} pages fetched, {stored} already stored"
    typer.echo(text)
    for note in report.notes:
        typer.echo(f"note: {note}")
