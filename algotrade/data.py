"""``algotrade data``: market data the platform did not record itself.

``import`` reads a CSV or Parquet file of 1m candles of one symbol, checks all of it,
and stores the candles and their 5m/15m/1h/1d roll-ups where the candle history API,
the quotes and the strategies read them (the tick store: local files in the embedded
profile, InfluxDB in the distributed one). See docs/market-data-feeds.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from algotrade._typer import Command, Json, typer_app
from algotrade.console import fail, print_json, run

if TYPE_CHECKING:
    from algotrade.context import CliContext
    from market_data_engine.imports import ImportReport

app = typer_app(
    name="data",
    help="Import market data into the tick store.",
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
        return await import_minutes(cli.tickstore, load_catalog(), file, symbol, cli.clock.now())

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
