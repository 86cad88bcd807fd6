"""The ``algotrade`` command line: run the platform, and operate it from a terminal.

Commands that read or change the platform build their clients from settings (the
``ALGOTRADE_*`` variables) like a service does; tests hand them a ``CliContext``
as the Typer context object instead. See docs/cli.md.
"""

from __future__ import annotations

import asyncio
import getpass
from enum import StrEnum
from importlib.metadata import version
from typing import Annotated

import typer

from algotrade import backtest, control, data, status, trading, users
from algotrade._typer import Command, typer_app
from algotrade.console import settings_of
from shared.config import Profile, Settings, get_settings
from shared.logs import configure_logging

app = typer_app(no_args_is_help=True)


class Service(StrEnum):
    API = "api"
    WEBSOCKET = "websocket"
    MARKET_DATA = "market-data"
    ORDER_PROCESSOR = "order-processor"
    STRATEGY_WORKER = "strategy-worker"
    ANALYTICS_WORKER = "analytics-worker"
    ALERTS = "alerts"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"algotrade {version('algotrade')}")
        raise typer.Exit()


@app.callback()
def main(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Multi-user algorithmic trading platform: run it, and operate it from a terminal.

    Settings come from ALGOTRADE_* environment variables (and .env). Commands that
    print data take --json for scripts.
    """


def _logging(settings: Settings, service: str | None = None) -> None:
    """One line per event, JSON or text (ALGOTRADE_LOG_FORMAT), with correlation ids."""
    configure_logging(settings.log_level, settings.log_format, service)


@app.command(cls=Command, rich_help_panel="Run")
def run(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port (API, dashboard and WebSocket).")] = 8000,
) -> None:
    """Run the whole platform in one process (embedded profile: SQLite, in-process bus)."""
    from algotrade.runner import run_embedded

    settings = get_settings()
    _logging(settings)
    run_embedded(settings, host=host, port=port)


@app.command(cls=Command, rich_help_panel="Run")
def serve(
    service: Annotated[
        Service,
        typer.Argument(
            metavar="SERVICE",
            show_choices=False,
            help="api, websocket, market-data, order-processor, strategy-worker, "
            "analytics-worker or alerts.",
        ),
    ],
) -> None:
    """Run one service of the distributed profile."""
    from algotrade.services import serve_service

    settings = get_settings()
    if settings.profile is not Profile.DISTRIBUTED:
        typer.echo(
            "note: ALGOTRADE_PROFILE is not 'distributed'; serving with "
            f"profile {settings.profile.value}",
            err=True,
        )
    _logging(settings, service.value)
    serve_service(service.value, settings)


@app.command(cls=Command, rich_help_panel="Run")
def migrate(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Argument(metavar="REVISION", help="Alembic revision to go to.")
    ] = "head",
) -> None:
    """Apply database migrations (straight to PostgreSQL, never through PgBouncer)."""
    from algotrade.migrate import upgrade

    settings = settings_of(ctx)
    _prepare_data_dir(settings)
    upgrade(settings.migration_url, revision)
    typer.echo(f"database at {revision}")


@app.command("create-admin", cls=Command, rich_help_panel="Users")
def create_admin(
    ctx: typer.Context,
    email: Annotated[
        str, typer.Option(prompt=True, help="The admin's e-mail address (the API's rules).")
    ],
    full_name: Annotated[str, typer.Option(help="The name shown in the dashboard.")] = (
        "Administrator"
    ),
    password: Annotated[
        str | None,
        typer.Option(
            help="Omit to be prompted (or set ALGOTRADE_ADMIN_PASSWORD).",
            envvar="ALGOTRADE_ADMIN_PASSWORD",
        ),
    ] = None,
) -> None:
    """Create an admin user, or promote an existing user to admin.

    The e-mail address and password must pass the same checks as the API's sign-up,
    so the admin can sign in.
    """
    from algotrade.admin import ensure_admin

    settings = settings_of(ctx)
    if password is None:
        password = getpass.getpass("Password: ")
    try:
        created = asyncio.run(ensure_admin(settings, email, password, full_name))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(("created admin " if created else "promoted to admin ") + email)


def _prepare_data_dir(settings: Settings) -> None:
    if settings.profile is Profile.EMBEDDED:
        settings.data_dir.mkdir(parents=True, exist_ok=True)


app.add_typer(status.app)
app.add_typer(users.app, name="users", rich_help_panel="Users")
app.add_typer(trading.app)
app.add_typer(control.app)
app.add_typer(data.app, name="data", rich_help_panel="Market data")
app.add_typer(backtest.app)


if __name__ == "__main__":
    app()
