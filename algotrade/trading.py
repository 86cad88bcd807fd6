"""``algotrade orders``, ``positions`` and ``fills``: one user's book, read as the API reads it.

The reads go through the order processor's ``OrderDesk`` and come out in the
API's shapes (``--json`` prints what GET /orders, /positions and /fills return to
the user, a page of items with its total).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Generic, TypeVar

import typer
from pydantic import BaseModel
from rich.table import Column

from algotrade._typer import Command, Json, Limit, Offset, UserRef, typer_app
from algotrade.console import cell, page_caption, print_json, print_table, right, run
from api_gateway.schemas.common import PageOut
from api_gateway.schemas.orders import FillPublic, OrderPublic, PositionPublic
from shared.contracts import OrderStatus, Product
from shared.models import User

if TYPE_CHECKING:
    from algotrade.context import CliContext
    from order_processor.api import MarkedPosition, OrderDesk

app = typer_app()
PANEL = "A user's book"
M = TypeVar("M", bound=BaseModel)

Symbol = Annotated[str | None, typer.Option(help="Only this symbol (e.g. INFY, BTCUSDT).")]
Account = Annotated[
    int | None,
    typer.Option("--account", min=1, metavar="ID", help="Only this broker account (its id)."),
]


@dataclass
class _Page(Generic[M]):
    owner: User
    items: list[M]
    total: int
    limit: int
    offset: int

    def out(self, model: type[M]) -> PageOut[M]:
        """The page as the API answers it."""
        return PageOut[model](  # type: ignore[valid-type]
            items=self.items, total=self.total, limit=self.limit, offset=self.offset
        )

    def show(self, what: str, columns: Sequence[str | Column], rows: list[list[object]]) -> None:
        title = f"{what} of {self.owner.email} (#{self.owner.id})"
        caption = page_caption(len(self.items), self.total, self.offset)
        print_table(title, columns, rows, caption=caption)


def _book(
    ctx: typer.Context,
    ref: str,
    read: Callable[[OrderDesk, int], Awaitable[tuple[list[M], int]]],
    limit: int | None,
    offset: int,
    as_json: bool,
    *,
    marks: bool = False,
) -> _Page[M]:
    """Run ``read(desk, page size)`` on the desk of the user ``ref``."""

    async def work(cli: CliContext) -> _Page[M]:
        from algotrade.lookup import find_user
        from order_processor.api import OrderDesk, reader_for

        size = min(limit or cli.settings.default_page_size, cli.settings.max_page_size)
        # Only positions are marked to the last price: the tick store is opened for them alone.
        reader = reader_for(cli.tickstore if marks else None)
        async with cli.sessions() as session:
            user = await find_user(session, ref)
            desk = OrderDesk(session, user.id, now=cli.clock.now(), reader=reader)
            items, total = await read(desk, size)
        return _Page(user, items, total, size, offset)

    return run(ctx, work, as_json=as_json)


def _symbol(symbol: str | None) -> str | None:
    return symbol.strip().upper() if symbol else None


@app.command(cls=Command, rich_help_panel=PANEL)
def orders(
    ctx: typer.Context,
    user: UserRef,
    status: Annotated[
        OrderStatus | None,
        typer.Option(
            case_sensitive=False,
            show_choices=False,
            help="Only orders in this state: PENDING, OPEN, PARTIALLY_FILLED, FILLED, "
            "CANCELLED, DENIED, REJECTED, EXPIRED, PENDING_CANCEL, ...",
        ),
    ] = None,
    symbol: Symbol = None,
    account: Account = None,
    limit: Limit = None,
    offset: Offset = 0,
    as_json: Json = False,
) -> None:
    """A user's orders, newest first."""

    async def read(desk: OrderDesk, size: int) -> tuple[list[OrderPublic], int]:
        from order_processor.api import OrderFilters

        filters = OrderFilters(status=status, symbol=_symbol(symbol), broker_account_id=account)
        page = await desk.orders(filters, size, offset)
        return [OrderPublic.model_validate(o) for o in page.items], page.total

    page = _book(ctx, user, read, limit, offset, as_json)
    if as_json:
        print_json(page.out(OrderPublic))
        return
    page.show("Orders", ORDER_COLUMNS, [_order_row(o) for o in page.items])
    _reasons(page.items)


@app.command(cls=Command, rich_help_panel=PANEL)
def positions(
    ctx: typer.Context,
    user: UserRef,
    account: Account = None,
    closed: Annotated[
        bool, typer.Option("--all", help="Closed positions (quantity 0) too.")
    ] = False,
    limit: Limit = None,
    offset: Offset = 0,
    as_json: Json = False,
) -> None:
    """A user's positions, marked to the last price the tick store holds."""

    async def read(desk: OrderDesk, size: int) -> tuple[list[PositionPublic], int]:
        marked, total = await desk.positions(
            size, offset, broker_account_id=account, open_only=not closed
        )
        return [_position(p) for p in marked], total

    page = _book(ctx, user, read, limit, offset, as_json, marks=True)
    if as_json:
        print_json(page.out(PositionPublic))
        return
    page.show("Positions", POSITION_COLUMNS, [_position_row(p) for p in page.items])


@app.command(cls=Command, rich_help_panel=PANEL)
def fills(
    ctx: typer.Context,
    user: UserRef,
    symbol: Symbol = None,
    order: Annotated[
        int | None, typer.Option(min=1, metavar="ID", help="Only fills of this order.")
    ] = None,
    account: Account = None,
    limit: Limit = None,
    offset: Offset = 0,
    as_json: Json = False,
) -> None:
    """A user's fills (executions at the broker), newest first."""

    async def read(desk: OrderDesk, size: int) -> tuple[list[FillPublic], int]:
        page = await desk.fills(
            size, offset, broker_account_id=account, order_id=order, symbol=_symbol(symbol)
        )
        return [FillPublic.model_validate(f) for f in page.items], page.total

    page = _book(ctx, user, read, limit, offset, as_json)
    if as_json:
        print_json(page.out(FillPublic))
        return
    page.show("Fills", FILL_COLUMNS, [_fill_row(f) for f in page.items])


ORDER_COLUMNS = (
    "ID",
    "Created (UTC)",
    "Symbol",
    "Side",
    right("Qty"),
    "Type",
    right("Price"),
    "Status",
    right("Filled @ avg"),
)
POSITION_COLUMNS = (
    "Acct",
    "Symbol",
    "Product",
    right("Qty"),
    right("Avg price"),
    right("Last"),
    right("Unrealised"),
    right("Realised"),
)
FILL_COLUMNS = (
    "ID",
    "Time (UTC)",
    "Order",
    "Acct",
    "Symbol",
    "Side",
    right("Qty"),
    right("Price"),
    right("Charges"),
)


def _order_row(o: OrderPublic) -> list[object]:
    price = o.limit_price if o.limit_price is not None else o.trigger_price
    filled = cell(o.filled_quantity)
    if o.average_price is not None:
        filled += f" @ {cell(o.average_price)}"
    return [o.id, o.created_at, o.symbol, o.side, o.quantity, o.order_type, price, o.status, filled]


def _reasons(orders: list[OrderPublic]) -> None:
    """Why orders were denied, rejected or cancelled, under the table (too long for a column)."""
    for o in orders:
        if o.reason_code:
            typer.echo(
                f"#{o.id} {o.status}: {o.reason_code}" + (f" ({o.reason})" if o.reason else "")
            )


def _position_row(p: PositionPublic) -> list[object]:
    book = [p.broker_account_id, p.symbol, p.product, p.quantity, p.average_price]
    return [*book, p.last_price, p.unrealised_pnl, p.realised_pnl]


def _fill_row(f: FillPublic) -> list[object]:
    return [
        f.id,
        f.ts,
        f.order_id,
        f.broker_account_id,
        f.symbol,
        f.side,
        f.quantity,
        f.price,
        f.charges,
    ]


def _position(p: MarkedPosition) -> PositionPublic:
    row = p.row
    return PositionPublic(
        id=row.id,
        broker_account_id=row.broker_account_id,
        symbol=row.symbol,
        product=Product(row.product),
        quantity=row.quantity,
        average_price=row.average_price,
        realised_pnl=row.realised_pnl,
        last_price=p.mark,
        market_value=p.market_value,
        unrealised_pnl=p.unrealised_pnl,
        updated_at=row.updated_at,
    )
