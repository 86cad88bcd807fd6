"""Order resources for tests: the route walk's factories and bodies, and a trading API harness.

``PARAM_FACTORIES``/``BODIES`` let the gateway's route walk (tenancy, admin-only,
anonymous) cover the order and kill-switch routes. ``trading_api`` stands up the
gateway with the order routes and a running order processor on one in-process
bus and the wall clock (the tests trade 24x7 crypto symbols, so any hour will do).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx

from tests.api_gateway.factories import PASSWORD, Trader, login, make_trader

R = "/api/v1"
_seq = itertools.count(1)


# -- the route walk -------------------------------------------------------------


async def _account(client: httpx.AsyncClient, owner: Trader) -> int:
    r = await client.post(
        f"{R}/broker-accounts",
        headers=owner.headers,
        json={"label": f"orders-{owner.id}", "currency": "USDT"},  # order_body trades SOLUSDT
    )
    if r.status_code == 409:
        listing = await client.get(f"{R}/broker-accounts", headers=owner.headers)
        label = f"orders-{owner.id}"  # the owner's account of this kind (an INR one, a USDT one)
        return next(int(a["id"]) for a in listing.json()["items"] if a["label"] == label)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _order(client: httpx.AsyncClient, owner: Trader) -> int:
    body = order_body(await _account(client, owner), order_type="LIMIT", limit_price="100")
    r = await client.post(f"{R}/orders", headers=owner.headers, json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


PARAM_FACTORIES = {"order_id": _order}

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", f"{R}/orders/{{order_id}}"): {"quantity": "2"},
    ("POST", f"{R}/admin/trading/halt"): {"reason": "route walk"},
    ("POST", f"{R}/admin/trading/resume"): {},
    ("POST", f"{R}/admin/trading/liquidate"): {},
    ("POST", f"{R}/positions/close"): {"broker_account_id": 1, "symbol": "SOLUSDT"},
}


# -- helpers for the order tests ------------------------------------------------

TRADING_DAY = date(2025, 6, 10)  # a Tuesday, NSE open


def ist(hour: int, minute: int = 0, second: int = 0, day: date = TRADING_DAY) -> datetime:
    from shared.calendar import IST

    return datetime.combine(day, time(hour, minute, second), IST)


def order_body(account_id: int, **fields: Any) -> dict[str, Any]:
    """A valid POST /orders body: buy 1 SOLUSDT at market, intraday, unless told otherwise."""
    body: dict[str, Any] = {
        "broker_account_id": account_id,
        "symbol": "SOLUSDT",
        "side": "BUY",
        "quantity": "1",
        "order_type": "MARKET",
        "product": "MIS",
        "validity": "DAY",
    }
    body.update(fields)
    return body


@dataclass
class TradingApi:
    """The gateway (with the order routes), a running order engine, their bus, clock and store."""

    app: Any
    ctx: Any
    client: httpx.AsyncClient
    engine: Any
    bus: Any
    tickstore: Any
    clock: Any

    async def trader(self) -> Trader:
        return await make_trader(self.client)

    async def admin(self) -> Trader:
        from algotrade.admin import ensure_admin

        email = f"op-admin{next(_seq)}@example.com"
        await ensure_admin(self.ctx.settings, email, PASSWORD, "Admin")
        tokens = await login(self.client, email)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = await self.client.get(f"{R}/users/me", headers=headers)
        return Trader(me.json()["id"], email, tokens["access_token"], tokens["refresh_token"])

    async def account(self, trader: Trader, capital: str = "100000", currency: str = "USDT") -> int:
        """A paper account; USDT by default, the currency of the crypto symbols the tests trade."""
        r = await self.client.post(
            f"{R}/broker-accounts",
            headers=trader.headers,
            json={
                "label": f"paper-{next(_seq)}",
                "starting_capital": capital,
                "currency": currency,
            },
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    async def place(self, trader: Trader, account_id: int, **fields: Any) -> httpx.Response:
        return await self.client.post(
            f"{R}/orders", headers=trader.headers, json=order_body(account_id, **fields)
        )

    async def tick(self, symbol: str, price: float, qty: float = 100.0) -> None:
        """Store a tick (a millisecond from now) and hand it to the engine."""
        import numpy as np

        from shared.contracts import TickMsg

        ts = self.clock.now() + timedelta(milliseconds=1)
        await self.tickstore.write_ticks(
            np.array([symbol], dtype=object),
            np.array([int(ts.timestamp() * 1e9)], dtype=np.int64),
            np.array([price]),
            np.array([qty]),
        )
        await self.engine.on_tick(TickMsg(symbol=symbol, ts=ts, price=price, qty=qty))

    async def set_limits(self, user_id: int, **limits: Any) -> None:
        from shared.db import transaction
        from shared.models import UserRiskLimits

        async with transaction(self.ctx.sessions) as session:
            await session.merge(UserRiskLimits(user_id=user_id, limits=limits))

    async def status_of(self, trader: Any, order_id: int, want: str, timeout: float = 10.0) -> str:
        """The order's status once it is ``want`` (or whatever it is after ``timeout``):
        cancels go to the processor after the request has answered."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            r = await self.client.get(f"{R}/orders/{order_id}", headers=trader.headers)
            status = str(r.json()["status"])
            if status == want or asyncio.get_running_loop().time() > deadline:
                return status
            await asyncio.sleep(0.02)

    async def settle(self) -> None:
        """Let the engine's loops run what is queued."""
        for _ in range(5):
            await asyncio.sleep(0)


@asynccontextmanager
async def trading_api(
    settings: Any,
    *,
    wrap: Any = None,
    options: Any = None,
    submit_wait: float = 10.0,
) -> AsyncIterator[TradingApi]:
    """The gateway and an order engine on ``settings``' database, one in-process bus.

    POST /orders waits up to ``submit_wait`` for the decision (it returns as soon as
    the order is decided; the long default keeps slow machines from flaking).

    ``wrap(paper_broker)`` may return an adapter around the paper broker (to count calls).
    """
    from algotrade.migrate import upgrade
    from api_gateway.app import ROUTERS, create_app
    from api_gateway.context import GatewayContext
    from api_gateway.routers import orders, trading
    from api_gateway.services.orders import SUBMIT_WAIT_KEY
    from order_processor.brokers import PaperBroker
    from order_processor.catalog import default_catalog
    from order_processor.config import ProcessorOptions
    from order_processor.engine import OrderEngine
    from shared.bus import InProcessEventBus
    from shared.clock import SystemClock
    from shared.db import create_engine, create_sessionmaker
    from shared.tickstore import LocalTickStore

    await asyncio.to_thread(upgrade, settings.migration_url)
    clock = SystemClock()
    db = create_engine(settings)
    bus = InProcessEventBus()
    tickstore = LocalTickStore()
    ctx = GatewayContext.build(settings, clock=clock, bus=bus, engine=db, tick_store=tickstore)
    ctx.extras[SUBMIT_WAIT_KEY] = submit_wait
    extra = [r for r in (orders.router, trading.router) if r not in ROUTERS]
    app = create_app(ctx, extra_routers=extra, dispose_engine=False)
    paper = PaperBroker(default_catalog(), clock)
    engine = OrderEngine(
        sessions=create_sessionmaker(db),
        bus=bus,
        clock=clock,
        tickstore=tickstore,
        broker=wrap(paper) if wrap is not None else paper,
        options=options or ProcessorOptions(read_block_ms=50, resync_every_s=0.2),
    )
    await engine.start()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield TradingApi(app, ctx, client, engine, bus, tickstore, clock)
    finally:
        await engine.stop()
        await bus.close()
        await db.dispose()


# -- the engine alone, for service tests ------------------------------------------


@dataclass
class ProcessorEnv:
    """An order engine on a database, with an in-process bus and a clock the test controls."""

    engine: Any
    sessions: Any
    bus: Any
    clock: Any

    async def account(
        self, capital: str = "100000", broker: str = "paper", currency: str = "USDT"
    ) -> tuple[int, int]:
        """A new user with one broker account (USDT unless told): (user_id, account_id)."""
        from shared.db import transaction
        from shared.models import BrokerAccount, User

        n = next(_seq)
        async with transaction(self.sessions) as session:
            user = User(email=f"svc{n}-{id(self)}@example.com", password_hash="-")
            session.add(user)
            await session.flush()
            account = BrokerAccount(
                user_id=user.id,
                broker=broker,
                label=f"acc{n}",
                starting_capital=Decimal(capital),
                currency=currency,
            )
            session.add(account)
            await session.flush()
            return user.id, account.id

    def intent(self, user_id: int, account_id: int, **fields: Any) -> Any:
        from shared.contracts import OrderIntent

        values: dict[str, Any] = {
            "client_order_id": f"t-{next(_seq)}",
            "user_id": user_id,
            "broker_account_id": account_id,
            "symbol": "SOLUSDT",
            "side": "BUY",
            "quantity": Decimal(1),
            "origin": "manual",
            "created_at": self.clock.now(),
        }
        values.update(fields)
        return OrderIntent(**values)

    async def place(self, user_id: int, account_id: int, **fields: Any) -> Any:
        """Accept and process an intent as the stream consumer would; returns the stored order."""
        intent = self.intent(user_id, account_id, **fields)
        await self.engine.handle_intent(intent)
        return await self.order_by_key(user_id, intent.client_order_id)

    async def order_by_key(self, user_id: int, client_order_id: str) -> Any:
        from order_processor.repositories import OrderRepository

        async with self.sessions() as session:
            return await OrderRepository(session, user_id).by_key(client_order_id)

    async def order(self, user_id: int, order_id: int) -> Any:
        from order_processor.repositories import OrderRepository

        async with self.sessions() as session:
            return await OrderRepository(session, user_id).get(order_id)

    async def tick(self, symbol: str, price: float | str, *, after: float = 1.0) -> None:
        """Move an event clock ``after`` seconds (a wall clock just moves) and tick."""
        from shared.clock import EventClock
        from shared.contracts import TickMsg

        if isinstance(self.clock, EventClock):
            self.clock.advance_to(self.clock.now() + timedelta(seconds=after))
            ts = self.clock.now()
        else:
            ts = self.clock.now() + timedelta(milliseconds=1)
        await self.engine.on_tick(TickMsg(symbol=symbol, ts=ts, price=float(price), qty=100.0))


@asynccontextmanager
async def processor_env(
    settings: Any,
    *,
    clock: Any = None,
    bus: Any = None,
    wrap: Any = None,
    options: Any = None,
    start: bool = True,
) -> AsyncIterator[ProcessorEnv]:
    """An order engine (paper broker, optionally wrapped) on a migrated database."""
    from algotrade.migrate import upgrade
    from order_processor.brokers import PaperBroker
    from order_processor.catalog import default_catalog
    from order_processor.config import ProcessorOptions
    from order_processor.engine import OrderEngine
    from shared.bus import InProcessEventBus
    from shared.clock import SystemClock
    from shared.db import create_engine, create_sessionmaker

    await asyncio.to_thread(upgrade, settings.migration_url)
    clock = clock if clock is not None else SystemClock()
    bus = bus if bus is not None else InProcessEventBus()
    db = create_engine(settings)
    sessions = create_sessionmaker(db)
    paper = PaperBroker(default_catalog(), clock)
    engine = OrderEngine(
        sessions=sessions,
        bus=bus,
        clock=clock,
        broker=wrap(paper) if wrap is not None else paper,
        options=options or ProcessorOptions(read_block_ms=50),
    )
    if start:
        await engine.start()
    else:  # no loops, but the account partitions are this engine's to write
        await engine.ownership.balance()
    try:
        yield ProcessorEnv(engine, sessions, bus, clock)
    finally:
        await engine.stop()
        await bus.close()
        await db.dispose()
