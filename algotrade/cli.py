"""The ``algotrade`` command line."""

from __future__ import annotations

import asyncio
import getpass
import logging
from enum import StrEnum
from typing import Annotated

import typer

from shared.config import Profile, Settings, get_settings

app = typer.Typer(
    help="Multi-user algorithmic trading platform.", no_args_is_help=True, add_completion=False
)


class Service(StrEnum):
    API = "api"
    WEBSOCKET = "websocket"
    MARKET_DATA = "market-data"
    ORDER_PROCESSOR = "order-processor"
    STRATEGY_WORKER = "strategy-worker"


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def run(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port (API, SPA and WebSocket)")] = 8000,
) -> None:
    """Run the whole platform in one process (embedded profile: SQLite, in-process bus)."""
    from algotrade.runner import run_embedded

    settings = get_settings()
    _logging(settings)
    run_embedded(settings, host=host, port=port)


@app.command()
def serve(service: Service) -> None:
    """Run one service of the distributed profile."""
    from algotrade.services import serve_service

    settings = get_settings()
    if settings.profile is not Profile.DISTRIBUTED:
        typer.echo(
            "note: ALGOTRADE_PROFILE is not 'distributed'; serving with "
            f"profile {settings.profile.value}",
            err=True,
        )
    _logging(settings)
    serve_service(service.value, settings)


@app.command()
def migrate(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply database migrations (straight to PostgreSQL, never through PgBouncer)."""
    from algotrade.migrate import upgrade

    settings = get_settings()
    _prepare_data_dir(settings)
    upgrade(settings.migration_url, revision)
    typer.echo(f"database at {revision}")


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True)],
    full_name: Annotated[str, typer.Option()] = "Administrator",
    password: Annotated[
        str | None,
        typer.Option(
            help="omit to be prompted; or set ALGOTRADE_ADMIN_PASSWORD",
            envvar="ALGOTRADE_ADMIN_PASSWORD",
        ),
    ] = None,
) -> None:
    """Create an admin user, or promote an existing user to admin."""
    from algotrade.admin import ensure_admin

    settings = get_settings()
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


if __name__ == "__main__":
    app()
