"""``algotrade users``: list users, disable and enable them, change their role.

Every change goes through the gateway's ``AdminService``, the code behind the
admin API: disabling ends the user's sessions, the last admin able to sign in
cannot be demoted or disabled, and every change is audited (actor: ``--as``, or
none for the system actor; address ``cli:<os user>``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from algotrade._typer import Actor, Command, Json, Limit, Offset, UserRef, typer_app
from algotrade.console import page_caption, print_json, print_table, run, whole
from api_gateway.schemas.common import PageOut
from api_gateway.schemas.users import UserAdminView
from shared.models import Role, User

if TYPE_CHECKING:
    from algotrade.context import CliContext
    from api_gateway.services.admin import AdminService
    from api_gateway.services.auth import RequestMeta

app = typer_app(
    name="users",
    help="List users; disable, enable, or change the role of one (as the admin API does).",
    no_args_is_help=True,
)

_COLUMNS = ("ID", whole("E-mail"), "Name", "Role", "Active", "2FA", "Last login (UTC)")

Change = Callable[["AdminService", int], Awaitable[User]]


def _row(u: UserAdminView) -> list[object]:
    return [u.id, u.email, u.full_name, u.role, u.is_active, u.totp_enabled, u.last_login_at]


def _change(ctx: typer.Context, ref: str, actor: str | None, change: Change, as_json: bool) -> None:
    """Apply ``change(service, user id)`` to the user ``ref`` as ``actor``; show the result."""

    async def work(cli: CliContext) -> UserAdminView:
        from algotrade.lookup import acting_admin, find_user
        from api_gateway.services.admin import AdminService

        async with cli.unit_of_work() as uow:
            admin = await acting_admin(uow.session, actor)
            user = await find_user(uow.session, ref)
            service = AdminService(cli.gateway(), uow.session, admin, uow.control)
            return UserAdminView.model_validate(await change(service, user.id))

    view = run(ctx, work, as_json=as_json)
    if as_json:
        print_json(view)
    else:
        print_table(f"{view.email}: {view.role}, active {view.is_active}", _COLUMNS, [_row(view)])


@app.command("list", cls=Command)
def list_users(
    ctx: typer.Context,
    search: Annotated[
        str | None, typer.Option("--search", "-q", help="Part of the e-mail or name.")
    ] = None,
    role: Annotated[
        Role | None, typer.Option(metavar="ROLE", help="Only users of this role: trader or admin.")
    ] = None,
    active: Annotated[
        bool | None,
        typer.Option("--active/--disabled", help="Only active (or only disabled) users."),
    ] = None,
    limit: Limit = None,
    offset: Offset = 0,
    as_json: Json = False,
) -> None:
    """List users by id, with filters; paged like the admin API."""

    async def work(cli: CliContext) -> PageOut[UserAdminView]:
        from api_gateway.services.admin import AdminService

        size = min(limit or cli.settings.default_page_size, cli.settings.max_page_size)
        async with cli.sessions() as session:
            service = AdminService(cli.gateway(), session, None, [])
            page = await service.search_users(search, role, active, size, offset)
            items = [UserAdminView.model_validate(u) for u in page.items]
        return PageOut[UserAdminView](items=items, total=page.total, limit=size, offset=offset)

    page = run(ctx, work, as_json=as_json)
    if as_json:
        print_json(page)
        return
    caption = page_caption(len(page.items), page.total, offset)
    print_table("Users", _COLUMNS, [_row(u) for u in page.items], caption=caption)


@app.command(cls=Command)
def disable(ctx: typer.Context, user: UserRef, actor: Actor = None, as_json: Json = False) -> None:
    """Disable a user: they cannot sign in, and their sessions end now.

    Refused for the last admin able to sign in, and for the acting admin themself.
    """

    async def change(service: AdminService, user_id: int) -> User:
        return await service.set_active(user_id, False, cli_meta())

    _change(ctx, user, actor, change, as_json)


@app.command(cls=Command)
def enable(ctx: typer.Context, user: UserRef, actor: Actor = None, as_json: Json = False) -> None:
    """Enable a disabled user again."""

    async def change(service: AdminService, user_id: int) -> User:
        return await service.set_active(user_id, True, cli_meta())

    _change(ctx, user, actor, change, as_json)


@app.command(cls=Command)
def role(
    ctx: typer.Context,
    user: UserRef,
    new_role: Annotated[Role, typer.Argument(metavar="ROLE", help="trader or admin.")],
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Change a user's role (refused when it would demote the last admin able to sign in)."""

    async def change(service: AdminService, user_id: int) -> User:
        return await service.set_role(user_id, new_role, cli_meta())

    _change(ctx, user, actor, change, as_json)


def cli_meta() -> RequestMeta:
    """Where a change came from, for the audit log: the command line and the OS user."""
    from importlib.metadata import version

    from algotrade.context import cli_address
    from api_gateway.services.auth import RequestMeta

    return RequestMeta(ip_address=cli_address(), user_agent=f"algotrade-cli/{version('algotrade')}")
