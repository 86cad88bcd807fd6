"""/backtest-data: candles a trader uploads (CSV or Parquet) to backtest on.

``POST /backtest-data?symbol=...&timeframe=...&format=csv|parquet`` takes the file as the
request body (up to ``backtest_max_upload_bytes``; 413 above). The whole file is checked
before anything is stored: a bad one is a 422 naming its first problem's line and column,
and nothing is kept. A stored dataset is run with ``POST /backtests`` and ``dataset_id``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from analytics_service.api import DatasetService, limits_from
from api_gateway.context import GatewayContext
from api_gateway.deps import CtxDep, CurrentUser, IdPath, PagingDep, UowDep
from api_gateway.schemas.backtests import BacktestDatasetPublic, DatasetQuery
from api_gateway.schemas.common import PageOut
from shared.models import User

router = APIRouter(prefix="/backtest-data", tags=["backtests"])

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _service(ctx: GatewayContext, uow: UowDep, user: User) -> DatasetService:
    return DatasetService(
        uow.session,
        user.id,
        now=ctx.clock.now(),
        max_datasets=ctx.settings.backtest_max_datasets,
    )


@router.post(
    "",
    response_model=BacktestDatasetPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=UPLOAD_BODY,
)
async def upload(
    request: Request,
    query: Annotated[DatasetQuery, Query()],
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
) -> object:
    """Store a file of candles (header ``timestamp,open,high,low,close,volume``)."""
    content = await request.body()  # bounded by the body limit of this route
    return await _service(ctx, uow, user).upload(
        content,
        query.format,
        name=query.name or f"{query.symbol} {query.timeframe}",
        symbol=query.symbol,
        timeframe=query.timeframe,
        max_bars=limits_from(ctx.settings).max_bars,
    )


@router.get("", response_model=PageOut[BacktestDatasetPublic])
async def list_datasets(user: CurrentUser, ctx: CtxDep, uow: UowDep, paging: PagingDep) -> object:
    page = await _service(ctx, uow, user).list(paging.limit, paging.offset)
    return PageOut(items=page.items, total=page.total, limit=page.limit, offset=page.offset)


@router.get("/{dataset_id}", response_model=BacktestDatasetPublic)
async def get_dataset(dataset_id: IdPath, user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    return await _service(ctx, uow, user).get(dataset_id)


@router.delete("/{dataset_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_dataset(dataset_id: IdPath, user: CurrentUser, ctx: CtxDep, uow: UowDep) -> None:
    await _service(ctx, uow, user).delete(dataset_id)
