"""What the commands print: Rich tables for people, JSON for scripts, errors on stderr.

Exit codes: 0 done; 1 refused (not found, not allowed, a rule of the platform) or,
for ``status``, something is down; 2 bad input (click's usage errors too).

The database, bus and service code is imported when a command runs, not when the
command line starts, so ``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich import box
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from shared.config import Settings, get_settings
from shared.contracts import plain_decimal
from shared.errors import DomainError

if TYPE_CHECKING:
    from algotrade.context import CliContext

T = TypeVar("T")

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2


def run(ctx: typer.Context, work: Callable[[CliContext], Awaitable[T]], *, as_json: bool) -> T:
    """Run ``work`` on the platform's clients (those of ``ctx.obj``, else built from settings).

    Domain errors, invalid input and database errors end the command with a message
    (JSON with ``--json``) and an exit code instead of a traceback.
    """
    from sqlalchemy.exc import DBAPIError

    from algotrade.context import CliContext

    given = ctx.obj if isinstance(ctx.obj, CliContext) else None

    async def main() -> T:
        cli = given if given is not None else CliContext.from_settings()
        try:
            return await work(cli)
        finally:
            if given is None:
                await cli.close()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        fail(exc.message, code=exc.code, as_json=as_json, exit_code=EXIT_REFUSED)
    except ValidationError as exc:
        fail(validation_message(exc), code="validation_error", as_json=as_json)
    except DBAPIError as exc:
        fail(
            f"the database refused: {exc.orig} (is it reachable and migrated? `algotrade status`)",
            code="database_error",
            as_json=as_json,
            exit_code=EXIT_REFUSED,
        )


def settings_of(ctx: typer.Context) -> Settings:
    """The settings of the context object (tests), else those of the environment."""
    if ctx.obj is None:
        return get_settings()
    from algotrade.context import CliContext

    return ctx.obj.settings if isinstance(ctx.obj, CliContext) else get_settings()


def fail(
    message: str, *, code: str, as_json: bool = False, exit_code: int = EXIT_BAD_INPUT
) -> NoReturn:
    if as_json:
        typer.echo(json.dumps({"code": code, "message": message}), err=True)
    else:
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(exit_code)


def validation_message(exc: ValidationError) -> str:
    """``field: message`` for each error, as one line."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
    )


def print_json(data: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    if isinstance(data, BaseModel):
        payload: Any = data.model_dump(mode="json")
    elif isinstance(data, dict):
        payload = data
    else:
        payload = [item.model_dump(mode="json") for item in data]
    typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))


def console() -> Console:
    # Made per call, so it writes to the sys.stdout of the moment (a test runner's too).
    return Console(highlight=False)


def right(header: str) -> Column:
    """A right-aligned column (numbers)."""
    return Column(header, justify="right", overflow="fold")


def whole(header: str) -> Column:
    """A column other columns wrap for first (e-mail addresses)."""
    return Column(header, no_wrap=True, overflow="fold")


_SHORT = 14
"""Columns whose values are all at most this long never wrap (ids, sides, states, amounts):
in a narrow terminal the long ones (times, names) wrap instead."""


def _column(column: str | Column, texts: list[Text]) -> Column:
    if isinstance(column, Column):
        return column
    short = all(len(t) <= _SHORT for t in texts) and len(column) <= _SHORT
    # Fold, never cut: an e-mail address or an id is no use with its end replaced by "...".
    return Column(column, overflow="fold", no_wrap=short)


def print_table(
    title: str,
    columns: Sequence[str | Column],
    rows: Iterable[Sequence[object]],
    *,
    caption: str | None = None,
) -> None:
    # Text, not str: a value such as a user's name is never read as Rich markup.
    texts = [[Text(cell(value)) for value in row] for row in rows]
    by_column = [[row[i] for row in texts] for i in range(len(columns))]
    table = Table(
        *(_column(c, values) for c, values in zip(columns, by_column, strict=True)),
        title=title,
        caption=caption,
        title_justify="left",
        caption_justify="left",
        box=box.SIMPLE_HEAD,  # no vertical rules: more room for the values
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    for row in texts:
        table.add_row(*row)
    console().print(table)


def page_caption(shown: int, total: int, offset: int) -> str:
    if not shown:
        return f"none shown of {total}" if total else "none"
    caption = f"{offset + 1}-{offset + shown} of {total}"
    if offset + shown < total:
        caption += f"; next page: --offset {offset + shown}"
    return caption


def cell(value: object) -> str:
    """How a value reads in a table: plain decimals, UTC times to the second (the column
    says UTC), '-' for none."""
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return plain_decimal(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
