"""The report of ``algotrade status``: the probes' answers, market sessions, feeds and halts."""

from __future__ import annotations

import asyncio
from datetime import datetime
from importlib.metadata import version

import httpx
from pydantic import BaseModel

from algotrade.context import CliContext
from algotrade.probes import (
    Check,
    probe_bus,
    probe_database,
    probe_http,
    probe_tickstore,
    service_url,
    worker_urls,
)
from api_gateway.repositories.users import UserRepository
from order_processor.api import TradingControl
from shared.calendar import AlwaysOpenCalendar, calendar_for
from shared.config import Profile
from shared.instruments import load_catalog

PROBE_TIMEOUT_S = 3.0


class Market(BaseModel):
    exchange: str
    open: bool
    session: str
    next_change: datetime | None
    """When the market next closes (open) or opens (closed); None around the clock."""


class Feed(BaseModel):
    exchange: str
    symbols: int
    last_symbol: str | None
    last_tick_at: datetime | None
    age_seconds: float | None


class Halt(BaseModel):
    id: int
    user: str | None
    """The halted user's e-mail address; None: everyone."""
    reason: str
    created_by: str
    created_at: datetime


class PlatformStatus(BaseModel):
    version: str
    profile: str
    environment: str
    checked_at: datetime
    healthy: bool
    checks: list[Check]
    markets: list[Market]
    feeds: list[Feed]
    halts: list[Halt]


def markets(now: datetime, exchanges: list[str]) -> list[Market]:
    """Each exchange's session state at ``now`` from its calendar (shared/calendar.py)."""
    out = []
    for exchange in exchanges:
        cal = calendar_for(exchange)
        is_open = cal.is_open(now)
        if isinstance(cal, AlwaysOpenCalendar):
            out.append(Market(exchange=exchange, open=True, session="24x7", next_change=None))
            continue
        today = cal.session_bounds(now.astimezone(cal.tz).date())
        change = today[1] if is_open and today is not None else cal.next_open(now)
        hours = f"{cal.opens:%H:%M}-{cal.closes:%H:%M} {cal.tz.key}"
        out.append(Market(exchange=exchange, open=is_open, session=hours, next_change=change))
    return out


async def feeds(cli: CliContext, now: datetime, by_exchange: dict[str, list[str]]) -> list[Feed]:
    """The newest tick the tick store holds per exchange (the embedded store: as of the
    running platform's last flush to disk)."""
    limit = asyncio.Semaphore(8)

    async def latest(symbol: str) -> tuple[str, datetime | None]:
        async with limit:
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    tick = await cli.tickstore.latest_tick(symbol)
            except Exception:
                return symbol, None  # unknown: the tick store probe reports why
        return symbol, tick.ts if tick is not None else None

    out = []
    for exchange, symbols in by_exchange.items():
        found = await asyncio.gather(*(latest(s) for s in symbols))
        seen = [(ts, s) for s, ts in found if ts is not None]
        ts, symbol = max(seen) if seen else (None, None)
        age = (now - ts).total_seconds() if ts is not None else None
        out.append(
            Feed(
                exchange=exchange,
                symbols=len(symbols),
                last_symbol=symbol,
                last_tick_at=ts,
                age_seconds=age,
            )
        )
    return out


async def halts(cli: CliContext) -> list[Halt]:
    """The active halts, read through the order processor's interface."""
    async with cli.sessions() as session:
        rows = await TradingControl(session, actor_id=None, now=cli.clock.now()).active_halts()
        users = UserRepository(session)
        return [
            Halt(
                id=h.id,
                user=await _email(users, h.user_id),
                reason=h.reason,
                created_by=await _email(users, h.created_by) or "system",
                created_at=h.created_at,
            )
            for h in rows
        ]


async def _email(users: UserRepository, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = await users.by_id(user_id)
    return user.email if user is not None else f"#{user_id}"


async def report(cli: CliContext, api: str | None) -> PlatformStatus:
    """Probe every part, then read the markets, the feeds and the halts."""
    settings = cli.settings
    now = cli.clock.now()
    catalog = load_catalog()
    exchanges = sorted({i.exchange for i in catalog})
    wanted = set(settings.feed_symbols)
    fed = {ex: [s for s in catalog.symbols(ex) if not wanted or s in wanted] for ex in exchanges}
    by_exchange = {ex: symbols for ex, symbols in fed.items() if symbols}
    database = await probe_database(cli, PROBE_TIMEOUT_S)
    store = await probe_tickstore(cli, PROBE_TIMEOUT_S, catalog.symbols()[0])
    checks = [database, *await probe_bus(cli, PROBE_TIMEOUT_S), store]
    # Every service is asked its /ready: it runs, and the dependencies it uses answer.
    api_ready = f"{api.rstrip('/')}/ready" if api else service_url(settings, settings.api_port)
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
        checks.append(await probe_http(client, "api", api_ready))
        if settings.profile is Profile.DISTRIBUTED:
            ws_ready = service_url(settings, settings.ws_port)
            checks.append(await probe_http(client, "websocket", ws_ready))
            for name, url in worker_urls(settings):
                checks.append(await probe_http(client, name, url))
    return PlatformStatus(
        version=version("algotrade"),
        profile=settings.profile.value,
        environment=settings.environment.value,
        checked_at=now,
        healthy=not any(c.required and c.ok is False for c in checks),
        checks=checks,
        markets=markets(now, exchanges),
        feeds=await feeds(cli, now, by_exchange) if store.ok else [],
        halts=await halts(cli) if database.ok else [],
    )
