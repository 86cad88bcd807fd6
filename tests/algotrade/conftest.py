"""A platform with a trader's book, made once through the API and the order processor, and a
fresh copy of its SQLite database for every test; commands run in process with Typer's runner.

The commands run in synchronous tests: each runs its own event loop (``asyncio.run``).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner, Result

from algotrade.admin import ensure_admin
from algotrade.cli import app
from algotrade.context import CliContext
from shared.bus import InProcessEventBus
from shared.config import Settings
from shared.contracts import Message
from shared.models import OutboxBatch
from tests.api_gateway.conftest import settings_for
from tests.api_gateway.factories import PASSWORD
from tests.order_processor.walk_orders import R, trading_api

T = TypeVar("T")
ADMIN = "ops@example.com"


@dataclass(frozen=True)
class Book:
    """What the template platform holds: an admin, and a trader with one USDT paper account
    holding a filled long of 2 SOLUSDT and a resting limit buy of 0.1 ETHUSDT."""

    admin_email: str
    trader_id: int
    trader_email: str
    account_id: int
    filled_order_id: int
    resting_order_id: int


async def _make_book(settings: Settings) -> Book:
    async with trading_api(settings) as api:
        await ensure_admin(settings, ADMIN, PASSWORD, "Ops")
        trader = await api.trader()
        account = await api.account(trader)
        await api.tick("SOLUSDT", 150.0)
        filled = await api.place(trader, account, quantity="2")
        await api.tick("SOLUSDT", 150.0)
        await api.tick("ETHUSDT", 3200.0)
        limit = {"order_type": "LIMIT", "limit_price": "3100"}
        resting = await api.place(trader, account, symbol="ETHUSDT", quantity="0.1", **limit)
        check = await api.client.get(f"{R}/orders/{filled.json()['id']}", headers=trader.headers)
        assert check.json()["status"] == "FILLED", check.text
        assert resting.json()["status"] == "OPEN", resting.text
        return Book(
            ADMIN,
            trader.id,
            trader.email,
            account,
            filled.json()["id"],
            resting.json()["id"],
        )


@pytest.fixture(scope="session")
def template(request, tmp_path_factory) -> tuple[Path, Book]:
    folder = tmp_path_factory.mktemp("cli-template")
    book = asyncio.run(_make_book(settings_for("sqlite", request, folder)))
    return folder, book


class RecordingBus(InProcessEventBus):
    """An in-process bus that keeps, in order, what was published and appended."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, Message]] = []

    async def publish(self, channel: str, message: Message) -> None:
        self.sent.append(("publish", channel, message))
        await super().publish(channel, message)

    async def publish_many(self, items: Sequence[tuple[str, Message]]) -> None:
        self.sent += [("publish", channel, message) for channel, message in items]
        await super().publish_many(items)

    async def append(self, stream: str, message: Message, maxlen: int | None = None) -> str:
        self.sent.append(("append", stream, message))
        return await super().append(stream, message, maxlen)


@dataclass
class Cli:
    """The command line on a copy of the template platform."""

    context: CliContext
    book: Book
    outbox_floor: int
    """The last outbox row of the template (a row its order engine had still to retire)."""

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(app, list(args), obj=self.context, input=input)

    def db(self, read: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """``read(session)`` on the platform's database."""

        async def run() -> T:
            async with self.context.sessions() as session:
                return await read(session)

        return asyncio.run(run())

    def outbox(self) -> list[OutboxBatch]:
        """The outbox rows staged since the template was made, and not yet relayed."""
        return rows(self, OutboxBatch, OutboxBatch.id > self.outbox_floor)

    def as_distributed(self) -> RecordingBus:
        """From now on the commands' bus reaches the services (as Redis does); returns it."""
        bus = RecordingBus()
        self.context.event_bus = bus
        self.context.bus_reaches_services = True
        return bus


@pytest.fixture
def cli(request, template, tmp_path) -> Iterator[Cli]:
    folder, book = template
    for db_file in folder.glob("algotrade.db*"):
        shutil.copy(db_file, tmp_path / db_file.name)
    context = CliContext.from_settings(settings_for("sqlite", request, tmp_path))
    cli = Cli(context, book, 0)
    cli.outbox_floor = max((b.id for b in cli.outbox()), default=0)
    yield cli
    asyncio.run(context.engine.dispose())


def rows(cli: Cli, model: Any, *where: Any) -> list[Any]:
    """The rows of ``model`` matching ``where``, in id order."""
    from sqlalchemy import select

    async def read(session: AsyncSession) -> list[Any]:
        stmt = select(model).where(*where).order_by(model.id)
        return list((await session.scalars(stmt)).all())

    return cli.db(read)
