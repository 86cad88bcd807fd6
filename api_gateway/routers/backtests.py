"""/backtests: a trader's backtest runs: submit, list, read, cancel, delete.

A run takes one ``symbol`` or several ``symbols`` (one account each, one report; a sweep's
point or a walk-forward fold runs them all as one portfolio), over the store's candles of
a range or uploaded ones (``dataset_id``, or ``dataset_ids``: one per symbol). It is
checked when submitted (4xx: unknown strategy, parameters outside its schema, an
unsupported timeframe, no candles in the range, uploaded data of another symbol or
timeframe, a limit reached), stored queued, and started once the row is committed;
progress arrives on the user's WebSocket channel (``backtest_progress`` messages) and in
the run's ``progress``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from analytics_service.api import (
    BacktestRequest,
    BacktestService,
    BacktestSettings,
    Direction,
    FillAt,
    Submission,
    SweepSpec,
    WalkForwardSpec,
    limits_from,
)
from api_gateway.context import GatewayContext
from api_gateway.deps import CtxDep, CurrentUser, PagingDep, UowDep
from api_gateway.schemas.backtests import BacktestCreate, BacktestRunDetail, BacktestRunPublic
from api_gateway.schemas.common import PageOut
from shared.models import User

router = APIRouter(prefix="/backtests", tags=["backtests"])

RunId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _service(ctx: GatewayContext, uow: UowDep, user: User) -> BacktestService:
    return BacktestService(
        uow.session,
        user.id,
        now=ctx.clock.now(),
        limits=limits_from(ctx.settings),
        tickstore=ctx.tickstore(),
    )


def _submission(body: BacktestCreate) -> Submission:
    s = body.settings
    settings = BacktestSettings(
        capital=s.capital,
        sizing_method=s.sizing_method,
        sizing_params=s.sizing_params,
        fill=FillAt(s.fill),
        slippage_bps=s.slippage_bps,
        slippage_ticks=s.slippage_ticks,
        charges=s.charges,
        direction=Direction(s.direction),
        stops=s.stops,
        product=s.product,
    )
    symbols = body.all_symbols
    request = BacktestRequest(
        strategy=body.strategy,
        params=body.params,
        symbol=symbols[0],
        timeframe=body.timeframe,
        settings=settings,
    )
    sweep = None if body.sweep is None else SweepSpec(body.sweep.grid, body.sweep.rank_by)
    wf = body.walk_forward
    return Submission(
        request,
        body.start,
        body.end,
        s.risk == "mine",
        sweep,
        dataset_id=body.dataset_id,
        intrabar_dataset_id=body.intrabar_dataset_id,
        walk_forward=None
        if wf is None
        else WalkForwardSpec(folds=wf.folds, out_of_sample=wf.out_of_sample, anchored=wf.anchored),
        symbols=tuple(symbols),
        check_lookahead=body.check_lookahead,
        dataset_ids=tuple(body.dataset_ids or ()),
    )


@router.post("", response_model=BacktestRunPublic, status_code=status.HTTP_202_ACCEPTED)
async def submit(body: BacktestCreate, user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    row = await _service(ctx, uow, user).submit(_submission(body))
    await uow.commit()  # the run exists before anything starts it
    await ctx.backtests().launch(user.id, row.id)
    return row


@router.get("", response_model=PageOut[BacktestRunPublic])
async def list_runs(user: CurrentUser, ctx: CtxDep, uow: UowDep, paging: PagingDep) -> object:
    page = await _service(ctx, uow, user).list(paging.limit, paging.offset)
    return PageOut(items=page.items, total=page.total, limit=page.limit, offset=page.offset)


@router.get("/{run_id}", response_model=BacktestRunDetail)
async def get_run(run_id: RunId, user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    return await _service(ctx, uow, user).get(run_id)


@router.post("/{run_id}/cancel", response_model=BacktestRunPublic)
async def cancel(run_id: RunId, user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    row = await _service(ctx, uow, user).cancel(run_id)
    await uow.commit()
    ctx.backtests().cancel(run_id)
    return row


@router.delete("/{run_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete(run_id: RunId, user: CurrentUser, ctx: CtxDep, uow: UowDep) -> None:
    await _service(ctx, uow, user).delete(run_id)
