"""``algotrade halt``, ``resume`` and ``liquidate``: the admins' kill switch from a terminal.

Each acts through the order processor's ``TradingControl``, as the admin API does:
the halt is stored and audited in the command's transaction with its control
event (the outbox); once committed, the event is published and the halt's cancel
commands, or the liquidation's close orders, are handed to the order processor,
which carries them out (see ``algotrade.context`` for the embedded profile).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from algotrade._typer import Actor, Command, Json, typer_app
from algotrade.console import fail, print_json, print_table, right, run
from api_gateway.schemas.orders import AdminHalt, HaltPublic, KillSwitchOutcome, OrderPublic

if TYPE_CHECKING:
    from algotrade.context import CliContext
    from order_processor.api import KillSwitchResult, TradingControl

app = typer_app()
PANEL = "Kill switch (admin, audited)"

Target = Annotated[
    str | None,
    typer.Argument(
        metavar="USER", help="The user's e-mail address or id; omit and give --all for everyone."
    ),
]
Everyone = Annotated[bool, typer.Option("--all", help="Every user (the whole platform).")]


def _scope(user: str | None, everyone: bool, as_json: bool) -> None:
    if (user is None) != everyone:
        fail("give either a USER or --all", code="scope_required", as_json=as_json)


def _outcome(result: KillSwitchResult) -> KillSwitchOutcome:
    return KillSwitchOutcome(
        halts=[HaltPublic.model_validate(h) for h in result.halts],
        cancelled_order_ids=[o.id for o in result.cancelled],
        orders=[OrderPublic.model_validate(o) for o in result.placed],
    )


Act = Callable[["TradingControl", int | None], Awaitable["KillSwitchResult"]]


async def _act(
    cli: CliContext, ref: str | None, actor: str | None, act: Act
) -> tuple[KillSwitchOutcome, str]:
    """``act`` on one user (``ref``) or everyone (None); the outcome, and a note of whom it hit,
    by whom, and where its orders went."""
    from algotrade.context import cli_address
    from algotrade.lookup import acting_admin, actor_name, find_user
    from order_processor.api import TradingControl

    async with cli.unit_of_work() as work:
        admin = await acting_admin(work.session, actor)
        target = await find_user(work.session, ref) if ref is not None else None
        user_id = target.id if target is not None else None
        control = TradingControl(
            work.session,
            actor_id=admin.id if admin is not None else None,
            now=cli.clock.now(),
            outbox=work.outbox,
            ip_address=cli_address(),
        )
        result = await act(control, user_id)
        work.orders += result.intents  # the halt's cancels, the liquidation's close orders
        outcome = _outcome(result)
    note = f"{target.email} (#{target.id})" if target is not None else "everyone"
    note += f", by {actor_name(admin)}"
    if work.orders and cli.reaches_services:
        note += "; orders handed to the order processor"
    elif work.orders:
        note += "; orders left for the sweeper of `algotrade run` (embedded profile)"
    return outcome, note


def _report(title: str, outcome: KillSwitchOutcome, note: str, as_json: bool) -> None:
    if as_json:
        print_json(outcome)
        return
    print_table(
        title,
        ["Halt", "Scope", "Reason", "Since (UTC)"],
        [
            [h.id, f"user #{h.user_id}" if h.user_id else "everyone", h.reason, h.created_at]
            for h in outcome.halts
        ],
        caption=note,
    )
    if outcome.cancelled_order_ids:
        ids = ", ".join(f"#{i}" for i in outcome.cancelled_order_ids)
        typer.echo(f"asked to cancel: {ids}")
    if outcome.orders:
        print_table(
            "Close orders placed",
            ["ID", "Acct", "Symbol", "Side", right("Qty"), "Status"],
            [
                [o.id, o.broker_account_id, o.symbol, o.side, o.quantity, o.status]
                for o in outcome.orders
            ],
        )


@app.command(cls=Command, rich_help_panel=PANEL)
def halt(
    ctx: typer.Context,
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why (shown to the user and audited).")
    ],
    user: Target = None,
    everyone: Everyone = False,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Halt a user's trading (or everyone's): their working orders are cancelled and only
    orders that reduce a position are accepted until resumed."""
    _scope(user, everyone, as_json)
    try:
        body = AdminHalt(reason=reason)  # the admin API's rules for a halt's reason
    except ValidationError as exc:
        fail(f"--reason: {exc.errors()[0]['msg']}", code="validation_error", as_json=as_json)

    async def act(control: TradingControl, user_id: int | None) -> KillSwitchResult:
        return await control.halt(user_id, body.reason)

    outcome, note = run(ctx, lambda cli: _act(cli, user, actor, act), as_json=as_json)
    _report("Halted", outcome, note, as_json)


@app.command(cls=Command, rich_help_panel=PANEL)
def resume(
    ctx: typer.Context,
    user: Target = None,
    everyone: Everyone = False,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Lift the halts of a user (theirs and admins'), or with --all the platform-wide halt."""
    _scope(user, everyone, as_json)

    async def act(control: TradingControl, user_id: int | None) -> KillSwitchResult:
        return await control.resume(user_id, as_admin=True)

    outcome, note = run(ctx, lambda cli: _act(cli, user, actor, act), as_json=as_json)
    _report("Halts lifted", outcome, note, as_json)


@app.command(cls=Command, rich_help_panel=PANEL)
def liquidate(
    ctx: typer.Context,
    user: Target = None,
    everyone: Everyone = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Close every open position of a user (or of everyone) with market orders."""
    _scope(user, everyone, as_json)
    if not yes:
        whose = user or "every user"
        typer.confirm(f"Close every open position of {whose} at market?", abort=True, err=True)

    async def act(control: TradingControl, user_id: int | None) -> KillSwitchResult:
        return await control.liquidate(user_id)

    outcome, note = run(ctx, lambda cli: _act(cli, user, actor, act), as_json=as_json)
    _report("Liquidation", outcome, note, as_json)
