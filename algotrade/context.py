"""The clients an operator's command works with, built from settings like a service's.

A command writes only through the application interfaces the API uses (the order
processor's ``OrderDesk`` and ``TradingControl``, the gateway's admin service), in
one transaction per command, and hands its work on exactly as the API does
(``CliContext.unit_of_work``): the events are staged in the transaction (the
transactional outbox), the transaction commits, a relay publishes the events,
then new orders and order commands go to the order processor's stream.

The embedded profile's bus lives inside the ``algotrade run`` process, so a
command's own in-process bus reaches no service. There the command leaves the
staged events for that process's relay (it publishes outbox rows a writer left,
within seconds) and the orders for its sweeper (it takes up PENDING and
PENDING_CANCEL orders nobody handed on); with no server running, both happen when
it next starts.
"""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api_gateway.context import GatewayContext
from order_processor.api import Outbox, submit
from shared.bus import EventBus, InProcessEventBus, create_event_bus
from shared.clock import Clock, SystemClock
from shared.config import Settings, get_settings
from shared.contracts import CHANNEL_CONTROL, ControlEvent, OrderCommand, OrderIntent
from shared.db import create_engine, create_sessionmaker
from shared.outbox import Relay
from shared.tickstore import TickStore, tickstore_from_settings


def cli_address() -> str:
    """What the audit log records as the command line's address: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"[:64]


@dataclass
class Work:
    """One command's transaction: its session, the events of its changes, and the orders
    and order commands to hand to the order processor once it has committed."""

    session: AsyncSession
    outbox: Outbox = field(default_factory=Outbox)
    control: list[ControlEvent] = field(default_factory=list)
    """Control events (sessions revoked, ...), sent on the control channel like the API's."""
    orders: list[OrderIntent | OrderCommand] = field(default_factory=list)


@dataclass
class CliContext:
    """Settings and clients of one command; the bus and tick store are made on first use."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock = field(default_factory=SystemClock)
    event_bus: EventBus | None = None
    tick_store: TickStore | None = None
    bus_reaches_services: bool | None = None
    """Whether what the bus carries reaches the services (None: decided by the bus; an
    in-process bus reaches no other process)."""
    _gateway: GatewayContext | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> CliContext:
        settings = settings or get_settings()
        engine = create_engine(settings)
        return cls(settings=settings, engine=engine, sessions=create_sessionmaker(engine))

    @property
    def bus(self) -> EventBus:
        if self.event_bus is None:
            self.event_bus = create_event_bus(self.settings)
        return self.event_bus

    @property
    def reaches_services(self) -> bool:
        if self.bus_reaches_services is None:
            return not isinstance(self.bus, InProcessEventBus)
        return self.bus_reaches_services

    @property
    def tickstore(self) -> TickStore:
        if self.tick_store is None:
            self.tick_store = tickstore_from_settings(self.settings)
        return self.tick_store

    def gateway(self) -> GatewayContext:
        """The gateway's context, for its services (user administration)."""
        if self._gateway is None:
            self._gateway = GatewayContext.build(
                self.settings, clock=self.clock, engine=self.engine, tick_store=self.tick_store
            )
        return self._gateway

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[Work]:
        """A transaction that commits when the block ends without error, then hands its
        events and orders on (the same order as the API: commit, events, orders)."""
        async with self.sessions() as session:
            work = Work(session)
            try:
                yield work
                for event in work.control:
                    work.outbox.add(CHANNEL_CONTROL, event)
                await work.outbox.stage(session, self.clock.now())
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        if self.reaches_services:
            await Relay(self.sessions, self.bus).send(work.outbox)
            await submit(self.bus, work.orders)

    async def close(self) -> None:
        if self.tick_store is not None:
            await self.tick_store.close()
        if self.event_bus is not None:
            await self.event_bus.close()
        await self.engine.dispose()
