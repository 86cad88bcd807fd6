"""/strategies (the catalog), /subscriptions (the user's strategies at work) and /signals."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api_gateway.context import GatewayContext
from api_gateway.deps import CtxDep, CurrentUser, MetaDep, PagingDep, UowDep
from api_gateway.schemas.common import PageOut
from api_gateway.schemas.strategies import (
    MAX_ID,
    PRINTABLE,
    SignalPublic,
    StrategyCatalog,
    StrategyPublic,
    SubscriptionCreate,
    SubscriptionPublic,
    SubscriptionUpdate,
    WarmupPublic,
)
from api_gateway.services.subscriptions import SubscriptionService
from api_gateway.services.warmup import Warmup, WarmupService
from shared.contracts import SubscriptionStatus
from shared.models import StrategySubscription
from strategy_workers.api import list_strategies, sizing_schemas

router = APIRouter(tags=["strategies"])

SubscriptionId = Annotated[int, Path(ge=1, le=MAX_ID)]


@functools.cache
def _catalog() -> StrategyCatalog:
    # The catalog is fixed once the plug-ins are loaded; building the schemas once is enough.
    return StrategyCatalog(
        items=[StrategyPublic.model_validate(info) for info in list_strategies()],
        sizing_schemas=sizing_schemas(),
    )


async def _public_many(
    ctx: GatewayContext, rows: Sequence[StrategySubscription]
) -> list[SubscriptionPublic]:
    """Subscriptions as shown, each with how much history its strategy has."""
    warmups = await WarmupService(ctx.tickstore()).of_many(rows)
    return [
        SubscriptionPublic.model_validate(row).model_copy(
            update={"warmup": None if w is None else _warmup(w)}
        )
        for row, w in zip(rows, warmups, strict=True)
    ]


async def _public(ctx: GatewayContext, row: StrategySubscription) -> SubscriptionPublic:
    return (await _public_many(ctx, [row]))[0]


def _warmup(w: Warmup) -> WarmupPublic:
    return WarmupPublic(bars=w.bars, needed=w.needed, ready=w.ready, status=w.status)


@router.get("/strategies", response_model=StrategyCatalog)
async def catalog(_: CurrentUser) -> object:
    return _catalog()


@router.post(
    "/subscriptions", response_model=SubscriptionPublic, status_code=status.HTTP_201_CREATED
)
async def create(
    body: SubscriptionCreate, user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> object:
    return await _public(ctx, await SubscriptionService(ctx, uow, user).create(body, meta))


@router.get("/subscriptions", response_model=PageOut[SubscriptionPublic])
async def list_subscriptions(
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
    paging: PagingDep,
    status_filter: Annotated[SubscriptionStatus | None, Query(alias="status")] = None,
) -> object:
    page = await SubscriptionService(ctx, uow, user).list(
        paging.limit, paging.offset, status_filter
    )
    items = await _public_many(ctx, page.items)
    return PageOut(items=items, total=page.total, limit=page.limit, offset=page.offset)


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionPublic)
async def get(
    subscription_id: SubscriptionId, user: CurrentUser, ctx: CtxDep, uow: UowDep
) -> object:
    return await _public(ctx, await SubscriptionService(ctx, uow, user).get(subscription_id))


@router.patch("/subscriptions/{subscription_id}", response_model=SubscriptionPublic)
async def update(
    subscription_id: SubscriptionId,
    body: SubscriptionUpdate,
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
    meta: MetaDep,
) -> object:
    row = await SubscriptionService(ctx, uow, user).update(subscription_id, body, meta)
    return await _public(ctx, row)


@router.post("/subscriptions/{subscription_id}/pause", response_model=SubscriptionPublic)
async def pause(
    subscription_id: SubscriptionId, user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> object:
    row = await SubscriptionService(ctx, uow, user).set_status(
        subscription_id, SubscriptionStatus.PAUSED, meta
    )
    return await _public(ctx, row)


@router.post("/subscriptions/{subscription_id}/resume", response_model=SubscriptionPublic)
async def resume(
    subscription_id: SubscriptionId, user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> object:
    row = await SubscriptionService(ctx, uow, user).set_status(
        subscription_id, SubscriptionStatus.ACTIVE, meta
    )
    return await _public(ctx, row)


@router.delete("/subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete(
    subscription_id: SubscriptionId, user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> None:
    await SubscriptionService(ctx, uow, user).delete(subscription_id, meta)


@router.get("/signals", response_model=PageOut[SignalPublic])
async def signals(
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
    paging: PagingDep,
    subscription_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    symbol: Annotated[str | None, Query(min_length=1, max_length=32, pattern=PRINTABLE)] = None,
) -> object:
    return await SubscriptionService(ctx, uow, user).signals(
        paging.limit, paging.offset, subscription_id, symbol
    )
