"""/orders, /fills, /positions, /accounts/{id}/summary: the signed-in user's trading."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response, status

from api_gateway.deps import CtxDep, CurrentUser, PagingDep, UowDep
from api_gateway.schemas.common import PageOut
from api_gateway.schemas.orders import (
    AccountSummaryPublic,
    CancelAllResult,
    FillPublic,
    OrderCreate,
    OrderDetail,
    OrderPublic,
    OrderUpdate,
    PositionClose,
    PositionPublic,
    RiskDecisionPublic,
)
from api_gateway.services.orders import OrdersApi
from order_processor.api import OrderFilters
from shared.contracts import OrderStatus

router = APIRouter(tags=["orders"])

SymbolQuery = Annotated[str | None, Query(min_length=1, max_length=32)]
AccountQuery = Annotated[int | None, Query(ge=1, le=2**62)]
OrderId = Annotated[int, Path(ge=1, le=2**62)]
AccountId = Annotated[int, Path(ge=1, le=2**62)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=64, pattern=r"^[\w.:\-]+$"),
]


@router.post(
    "/orders",
    response_model=OrderPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Place an order (idempotent by client_order_id)",
)
async def place(
    body: OrderCreate,
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
    idempotency_key: IdempotencyKey = None,
) -> object:
    return await OrdersApi(ctx, uow, user).place(body, idempotency_key)


@router.get("/orders", response_model=PageOut[OrderPublic])
async def list_orders(
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
    paging: PagingDep,
    status: OrderStatus | None = None,
    symbol: SymbolQuery = None,
    broker_account_id: AccountQuery = None,
) -> object:
    filters = OrderFilters(status=status, symbol=symbol, broker_account_id=broker_account_id)
    return await OrdersApi(ctx, uow, user).search(filters, paging.limit, paging.offset)


@router.post("/orders/cancel-all", response_model=CancelAllResult)
async def cancel_all(
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
    broker_account_id: AccountQuery = None,
    symbol: SymbolQuery = None,
) -> object:
    orders = await OrdersApi(ctx, uow, user).cancel_all(broker_account_id, symbol)
    return CancelAllResult(
        count=len(orders), orders=[OrderPublic.model_validate(o) for o in orders]
    )


@router.get("/orders/{order_id}", response_model=OrderDetail)
async def get_order(order_id: OrderId, user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    row, decisions = await OrdersApi(ctx, uow, user).get(order_id)
    return OrderDetail(
        **OrderPublic.model_validate(row).model_dump(),
        risk_decisions=[RiskDecisionPublic.model_validate(d) for d in decisions],
    )


@router.patch(
    "/orders/{order_id}",
    response_model=OrderPublic,
    responses={202: {"model": OrderPublic, "description": "accepted, still PENDING_UPDATE"}},
)
async def modify(
    order_id: OrderId,
    body: OrderUpdate,
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
    response: Response,
) -> object:
    """Change a working order's quantity or prices. 200 with the order as changed; 202 with
    the order PENDING_UPDATE when the processor has not carried the change out yet."""
    row = await OrdersApi(ctx, uow, user).modify(order_id, body)
    if row.status == OrderStatus.PENDING_UPDATE:
        response.status_code = status.HTTP_202_ACCEPTED
    return row


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderPublic,
    responses={202: {"model": OrderPublic, "description": "accepted, still PENDING_CANCEL"}},
)
async def cancel(
    order_id: OrderId, user: CurrentUser, ctx: CtxDep, uow: UowDep, response: Response
) -> object:
    """Cancel an order. 200 with the order CANCELLED (or FILLED, if it filled first); 202 with
    the order PENDING_CANCEL when the processor has not carried the cancel out yet."""
    row = await OrdersApi(ctx, uow, user).cancel(order_id)
    if row.status == OrderStatus.PENDING_CANCEL:
        response.status_code = status.HTTP_202_ACCEPTED
    return row


@router.get("/fills", response_model=PageOut[FillPublic])
async def list_fills(
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
    paging: PagingDep,
    broker_account_id: AccountQuery = None,
    order_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    symbol: SymbolQuery = None,
) -> object:
    return await OrdersApi(ctx, uow, user).fills(
        paging.limit, paging.offset, broker_account_id, order_id, symbol
    )


@router.get("/positions", response_model=PageOut[PositionPublic])
async def list_positions(
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
    paging: PagingDep,
    broker_account_id: AccountQuery = None,
    open_only: bool = True,
) -> object:
    return await OrdersApi(ctx, uow, user).positions(
        paging.limit, paging.offset, broker_account_id, open_only
    )


@router.post(
    "/positions/close",
    response_model=OrderPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Close an open position with a market order (never flips it)",
)
async def close_position(
    body: PositionClose,
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
    idempotency_key: IdempotencyKey = None,
) -> object:
    """The order closes the position net of exits already working; 409 when nothing is left."""
    return await OrdersApi(ctx, uow, user).close_position(body, idempotency_key)


@router.get("/accounts/{account_id}/summary", response_model=AccountSummaryPublic)
async def account_summary(
    account_id: AccountId, user: CurrentUser, ctx: CtxDep, uow: UowDep
) -> object:
    return await OrdersApi(ctx, uow, user).summary(account_id)
