"""Typer classes and shared parameter types of the command line.

Typer's Rich help prints a value type for every option, flags included
(``--help <bool>``), which reads as if the flag took a value. The classes here
print no type for flags; every command and group of ``algotrade`` uses them.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption


def _untyped_flags(params: list[Any]) -> list[Any]:
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""  # Rich help prints the metavar, when set, instead of the type
    return params


class Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


class Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


def typer_app(**kwargs: Any) -> typer.Typer:
    """A Typer app (or command group) whose help prints flags without a value type."""
    # Markdown: docstring paragraphs reflow to the terminal's width.
    return typer.Typer(cls=Group, add_completion=False, rich_markup_mode="markdown", **kwargs)


# -- parameters more than one command takes --------------------------------------------

Json = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of a table.")]
UserRef = Annotated[
    str, typer.Argument(metavar="USER", help="The user's e-mail address or numeric id.")
]
Actor = Annotated[
    str | None,
    typer.Option(
        "--as",
        metavar="EMAIL",
        envvar="ALGOTRADE_CLI_ACTOR",
        help="The admin acting (must be an active admin); recorded in the audit log. "
        "Omitted: the platform itself (the 'system' actor, no user).",
    ),
]
Limit = Annotated[
    int | None,
    typer.Option(
        min=1,
        metavar="N",
        help="Rows per page (default ALGOTRADE_DEFAULT_PAGE_SIZE, at most "
        "ALGOTRADE_MAX_PAGE_SIZE).",
    ),
]
Offset = Annotated[
    int, typer.Option(min=0, metavar="N", help="Rows to skip (where the next page starts).")
]
