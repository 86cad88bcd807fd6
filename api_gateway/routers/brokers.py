"""/broker-accounts: the signed-in user's linked brokers."""

from __future__ import annotations

from fastapi import APIRouter, status

from api_gateway.deps import CtxDep, CurrentUser, IdPath, MetaDep, PagingDep, UowDep
from api_gateway.schemas.brokers import (
    BrokerAccountCreate,
    BrokerAccountPublic,
    BrokerAccountUpdate,
)
from api_gateway.schemas.common import PageOut
from api_gateway.services.brokers import BrokerAccountService

router = APIRouter(prefix="/broker-accounts", tags=["broker accounts"])


@router.post("", response_model=BrokerAccountPublic, status_code=status.HTTP_201_CREATED)
async def create(
    body: BrokerAccountCreate, user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> object:
    return await BrokerAccountService(ctx, uow, user).create(body, meta)


@router.get("", response_model=PageOut[BrokerAccountPublic])
async def list_accounts(user: CurrentUser, ctx: CtxDep, uow: UowDep, paging: PagingDep) -> object:
    return await BrokerAccountService(ctx, uow, user).list(paging.limit, paging.offset)


@router.get("/{account_id}", response_model=BrokerAccountPublic)
async def get(account_id: IdPath, user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    return await BrokerAccountService(ctx, uow, user).get(account_id)


@router.patch("/{account_id}", response_model=BrokerAccountPublic)
async def update(
    account_id: IdPath,
    body: BrokerAccountUpdate,
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
    meta: MetaDep,
) -> object:
    return await BrokerAccountService(ctx, uow, user).update(account_id, body, meta)


@router.delete(
    "/{account_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "the account has history (code account_has_history)"}},
)
async def delete(
    account_id: IdPath, user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> None:
    """Delete an account that has no history; one with any is closed instead."""
    await BrokerAccountService(ctx, uow, user).delete(account_id, meta)


@router.post(
    "/{account_id}/close",
    response_model=BrokerAccountPublic,
    responses={409: {"description": "open positions or working orders (code account_not_flat)"}},
)
async def close(
    account_id: IdPath, user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> object:
    """Close the account for good: it takes no new orders or subscriptions, and stays readable."""
    return await BrokerAccountService(ctx, uow, user).close(account_id, meta)
