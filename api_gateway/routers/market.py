"""/instruments and /market: the catalog, candle history, quotes and market status."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from api_gateway.deps import CtxDep, CurrentUser
from api_gateway.schemas.common import IsoDatetime
from api_gateway.schemas.market import (
    CandlesOut,
    InstrumentPublic,
    MarketStatusPublic,
    QuotePublic,
)
from shared.contracts import Timeframe
from shared.errors import NotFound, Unprocessable
from shared.instruments import load_catalog
from shared.market_status import exchanges_of, statuses

router = APIRouter(tags=["market data"])
MAX_QUOTES = 100


@router.get("/instruments", response_model=list[InstrumentPublic])
async def search_instruments(
    _: CurrentUser,
    q: Annotated[str, Query(max_length=50)] = "",
    exchange: Annotated[str | None, Query(max_length=16)] = None,
    sector: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> object:
    return load_catalog().search(q, exchange=exchange, sector=sector, limit=limit)


@router.get("/instruments/{symbol}", response_model=InstrumentPublic)
async def get_instrument(symbol: str, _: CurrentUser) -> object:
    return load_catalog().get(symbol.upper())


@router.get("/market/candles", response_model=CandlesOut)
async def candles(
    ctx: CtxDep,
    _: CurrentUser,
    symbol: Annotated[str, Query(min_length=1, max_length=32)],
    timeframe: Timeframe = Timeframe.M1,
    start: Annotated[IsoDatetime | None, Query(alias="from")] = None,
    end: Annotated[IsoDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> object:
    instrument = load_catalog().get(symbol.upper())
    if start is not None and end is not None and start >= end:
        raise Unprocessable(
            "'from' must be before 'to'",
            code="invalid_range",
            details=[{"field": "from", "message": "must be before 'to'"}],
        )
    rows = await ctx.tickstore().query_candles(instrument.symbol, timeframe, start, end, limit)
    return CandlesOut(
        symbol=instrument.symbol, timeframe=timeframe.value, candles=[c.model_dump() for c in rows]
    )


@router.get("/market/quotes", response_model=list[QuotePublic])
async def quotes(
    ctx: CtxDep,
    _: CurrentUser,
    symbols: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=2000,
            description="comma-separated symbols; every instrument when omitted",
        ),
    ] = None,
) -> object:
    catalog = load_catalog()
    if symbols is None:
        instruments = catalog.all()
    else:
        names = list(dict.fromkeys(s.strip().upper() for s in symbols.split(",") if s.strip()))
        if not names:
            raise Unprocessable("name at least one symbol", code="no_symbols")
        if len(names) > MAX_QUOTES:
            raise Unprocessable(
                f"at most {MAX_QUOTES} symbols per request", code="too_many_symbols"
            )
        instruments = [catalog.get(name) for name in names]
    return await ctx.quotes().quotes(instruments, ctx.clock.now())


@router.get("/market/status", response_model=list[MarketStatusPublic])
async def status(
    ctx: CtxDep,
    _: CurrentUser,
    exchange: Annotated[str | None, Query(min_length=1, max_length=16)] = None,
) -> object:
    """Each exchange's state: open or closed and why, today's session, the next open."""
    known = exchanges_of(load_catalog())
    wanted = known
    if exchange is not None:
        code = exchange.strip().upper()
        if code not in known:
            raise NotFound(
                f"unknown exchange {exchange!r}; known: {', '.join(known)}",
                code="unknown_exchange",
            )
        wanted = [code]
    now = ctx.clock.now()
    # The first look at a calendar loads its holidays (CPU-bound): keep it off the loop.
    return await asyncio.to_thread(statuses, wanted, now)
