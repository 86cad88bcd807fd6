"""/instruments and /market: the catalog, candle history and latest quotes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api_gateway.deps import CtxDep, CurrentUser
from api_gateway.schemas.common import IsoDatetime
from api_gateway.schemas.market import CandlesOut, InstrumentPublic, QuotePublic
from shared.contracts import Timeframe
from shared.errors import Unprocessable
from shared.instruments import load_catalog

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
        str, Query(min_length=1, max_length=2000, description="comma-separated symbols")
    ],
) -> object:
    names = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    if len(names) > MAX_QUOTES:
        raise Unprocessable(f"at most {MAX_QUOTES} symbols per request", code="too_many_symbols")
    catalog = load_catalog()
    out = []
    store = ctx.tickstore()
    for name in names:
        catalog.get(name)
        tick = await store.latest_tick(name)
        out.append(
            QuotePublic(
                symbol=name, price=tick.price if tick else None, ts=tick.ts if tick else None
            )
        )
    return out
