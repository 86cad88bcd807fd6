"""``algotrade status``: is the platform up, are markets open, are feeds live, who is halted.

Every probe has a time limit, so a server that does not answer shows as down
instead of hanging the command. The exit code is 1 when the database, the bus or
the tick store is down (or the schema is not at the migrations' head), else 0;
the HTTP services are probed from this machine and only reported.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Column

from algotrade._typer import Command, Json, typer_app
from algotrade.console import cell, console, print_json, print_table, right, run

if TYPE_CHECKING:
    from algotrade.context import CliContext
    from algotrade.health import PlatformStatus

app = typer_app()


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    span = timedelta(seconds=round(max(seconds, 0)))
    if span < timedelta(minutes=2):
        return f"{span.seconds} s"
    if span < timedelta(hours=2):
        return f"{span.seconds // 60} min"
    return f"{span.days} d {span.seconds // 3600} h" if span.days else f"{span.seconds // 3600} h"


def _state(ok: bool | None) -> str:
    return "-" if ok is None else "ok" if ok else "DOWN"


def render(s: PlatformStatus) -> None:
    console().print(
        f"algotrade {s.version} · {s.profile} profile · {s.environment} · {cell(s.checked_at)}",
        markup=False,
    )
    services = [[c.name, _state(c.ok), c.detail] for c in s.checks]
    print_table("Services", ["Part", "State", "Detail"], services)
    sessions = [
        [m.exchange, "open" if m.open else "closed", m.session, m.next_change] for m in s.markets
    ]
    print_table("Markets", ["Exchange", "State", "Session", "Next change (UTC)"], sessions)
    ticks = [
        [f.exchange, f.symbols, f.last_symbol, f.last_tick_at, _age(f.age_seconds)] for f in s.feeds
    ]
    columns: list[str | Column] = ["Exchange", right("Symbols"), "Newest", "At (UTC)", right("Age")]
    if ticks:
        print_table("Feeds (newest tick in the tick store)", columns, ticks)
    else:
        console().print("Feeds: unknown (the tick store did not answer).")
    if s.halts:
        halted = [
            [h.id, h.user or "everyone", h.reason, h.created_by, h.created_at] for h in s.halts
        ]
        print_table("Active halts", ["ID", "Who", "Reason", "By", "Since (UTC)"], halted)
    else:
        console().print("No active halts.")


@app.command(cls=Command, rich_help_panel="Operate")
def status(
    ctx: typer.Context,
    api: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            metavar="URL",
            help="The API's base URL, to ask its /ready (default: ALGOTRADE_API_HOST and "
            "ALGOTRADE_API_PORT; `algotrade run` serves on http://127.0.0.1:8000).",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """The platform at a glance: database and migration head, bus, tick store, services,
    market sessions per exchange, the newest tick per feed, and active halts.

    Exits with 1 when the database, bus or tick store is down or the schema is behind.
    """

    async def work(cli: CliContext) -> PlatformStatus:
        from algotrade.health import report

        return await report(cli, api)

    found = run(ctx, work, as_json=as_json)
    if as_json:
        print_json(found)
    else:
        render(found)
    if not found.healthy:
        raise typer.Exit(1)
