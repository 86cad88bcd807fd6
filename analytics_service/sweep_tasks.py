"""A sweep's grid points as Celery tasks of their own (distributed profile).

The run's task (``analytics_service.run_backtest``) checks and reads the data as for any
run, then sends the grid's accepted points, ``backtest_sweep_points_per_task`` to a task,
as ``analytics_service.run_sweep_points`` tasks on the backtest queue, and ends without
waiting (a worker of one process could never run the points it waited for). Each point
task reads the data again (its hash must be the one the run read), runs its points and
writes each one's figures to ``backtest_sweep_points``; a task delivered again skips the
points it finds written. The run's progress is the share of points written, on its row and
the user's channel. The task that writes the last point ranks them all into the run's
result, under the run's row lock, so exactly one does.

A point task that finds the run cancelled (before a point, or while one runs: it looks at
every progress beat) stops, and writes its remaining points as not run; so does one whose
run failed. The run ends cancelled, or failed with the first point's error.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts import TASK_RUN_SWEEP_POINTS
from shared.errors import DomainError, Unprocessable
from shared.models import BacktestRun, BacktestSweepPoint

from .backtest import BacktestCancelled, BacktestRequest
from .backtest.portfolio import SymbolData
from .backtest.report import jsonable
from .backtest.sweep import grid_points, inputs_key, point_summary, rank, sweep_result
from .backtests import (
    POLL_SECONDS,
    BacktestRunRepository,
    RunContext,
    Submission,
    TaskSender,
    load_inputs,
    publish_progress,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PointChunk:
    """Points ``[lo, hi)`` of a run's grid, with what the run read (``data_key``) and its
    request as it runs (the user's risk limits in it)."""

    user_id: int
    run_id: int
    lo: int
    hi: int
    data_key: str
    request: dict[str, Any]

    def args(self) -> list[Any]:
        return [self.user_id, self.run_id, self.lo, self.hi, self.data_key, self.request]


class SweepPointRepository:
    """The grid points written for one user's runs (every query through the user's runs)."""

    def __init__(self, session: AsyncSession, user_id: int) -> None:
        self.session = session
        self.user_id = user_id

    def _runs(self) -> Any:
        return select(BacktestRun.id).where(BacktestRun.user_id == self.user_id)

    async def written(self, run_id: int) -> list[BacktestSweepPoint]:
        rows = await self.session.scalars(
            select(BacktestSweepPoint)
            .where(BacktestSweepPoint.run_id == run_id, BacktestSweepPoint.run_id.in_(self._runs()))
            .order_by(BacktestSweepPoint.point)
        )
        return list(rows)

    async def count(self, run_id: int) -> int:
        stmt = select(func.count()).where(
            BacktestSweepPoint.run_id == run_id, BacktestSweepPoint.run_id.in_(self._runs())
        )
        return int(await self.session.scalar(stmt) or 0)

    async def add(self, row: BacktestSweepPoint) -> None:
        """Write a point once: a second write of it (a task delivered again) is dropped."""
        if await self.session.scalar(self._runs().where(BacktestRun.id == row.run_id)) is None:
            return  # not this user's run, or deleted meanwhile
        try:
            async with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            pass


class CeleryPointDispatch:
    """Sends a run's grid points as ``run_sweep_points`` tasks, ``per_task`` to a task."""

    def __init__(self, sender: TaskSender, queue: str, per_task: int) -> None:
        self.sender = sender
        self.queue = queue
        self.per_task = per_task

    async def dispatch(
        self, user_id: int, run_id: int, request: BacktestRequest, data_key: str, total: int
    ) -> None:
        body = request.model_dump(mode="json")
        chunks = [
            PointChunk(user_id, run_id, lo, min(lo + self.per_task, total), data_key, body)
            for lo in range(0, total, self.per_task)
        ]

        def send() -> None:
            for chunk in chunks:
                self.sender.send_task(TASK_RUN_SWEEP_POINTS, args=chunk.args(), queue=self.queue)

        await asyncio.to_thread(send)


async def run_points(ctx: RunContext, chunk: PointChunk, task_id: str) -> str:
    """Run the chunk's points not yet written, write each, and end the run if they were
    its last; returns the run's status."""
    async with ctx.sessions() as session:
        row = await BacktestRunRepository(session, chunk.user_id).get(chunk.run_id)
        if row.status != "running":
            return row.status  # cancelled before it ran, failed, or ended by another task
        submission = Submission.from_json(row.request)
        stop = row.cancel_requested
        seen = {p.point for p in await SweepPointRepository(session, chunk.user_id).written(row.id)}
    assert submission.sweep is not None
    request = BacktestRequest.model_validate(chunk.request)
    points, _ = grid_points(request.strategy, request.params, submission.sweep.grid)
    todo = [k for k in range(chunk.lo, min(chunk.hi, len(points))) if k not in seen]
    cancel = threading.Event()
    if stop:
        cancel.set()
    error: str | None = None
    data: list[SymbolData] = []
    if todo and not cancel.is_set():
        try:
            data = await load_inputs(ctx, chunk.user_id, submission, request)
            if inputs_key(data) != chunk.data_key:
                raise Unprocessable(
                    "the candles of the run's range changed while its points ran; submit it again"
                )
        except DomainError as exc:
            error = exc.message
        except Exception as exc:  # recorded on the point: the run fails and says why
            log.exception("sweep points of run %s could not read the data", chunk.run_id)
            error = f"internal error: {type(exc).__name__}"
    for k in todo:
        summary: dict[str, Any] | None = None
        failed, error = error, None  # a data error is written on the first point left
        if failed is None and not cancel.is_set():
            one = request.model_copy(update={"params": points[k]})
            try:
                summary = await _point(ctx, chunk, one, data, cancel)
            except BacktestCancelled:
                pass
            except DomainError as exc:
                failed = exc.message
            except Exception as exc:
                log.exception("sweep point %s of run %s failed", k, chunk.run_id)
                failed = f"internal error: {type(exc).__name__}"
        if failed is not None:
            cancel.set()  # the run fails: the chunk's other points are not run
        point = BacktestSweepPoint(
            run_id=chunk.run_id, point=k, summary=summary, error=failed, task_id=task_id
        )
        if await _write(ctx, chunk, point, len(points)):
            cancel.set()
    return await finish(ctx, chunk.user_id, chunk.run_id)


async def _point(
    ctx: RunContext,
    chunk: PointChunk,
    request: BacktestRequest,
    data: Sequence[SymbolData],
    cancel: threading.Event,
) -> dict[str, Any]:
    """One point in a thread, looking for a cancel at every progress beat while it runs."""
    work = asyncio.create_task(asyncio.to_thread(point_summary, request, data, cancel.is_set))
    while not work.done():
        await asyncio.wait({work}, timeout=POLL_SECONDS)
        if not work.done() and await _cancel_asked(ctx, chunk):
            cancel.set()
    summary: dict[str, Any] = jsonable(work.result())
    return summary


async def _cancel_asked(ctx: RunContext, chunk: PointChunk) -> bool:
    async with ctx.sessions() as session:
        row = await BacktestRunRepository(session, chunk.user_id).get(chunk.run_id)
        return row.cancel_requested or row.status != "running"


async def _write(ctx: RunContext, chunk: PointChunk, point: BacktestSweepPoint, total: int) -> bool:
    """Write the point and the run's progress; returns whether the run should stop (a
    cancel was asked for, or it is no longer running)."""
    async with ctx.sessions() as session, session.begin():
        points = SweepPointRepository(session, chunk.user_id)
        await points.add(point)
        progress = round(await points.count(chunk.run_id) / max(total, 1), 4)
        await session.execute(
            update(BacktestRun)
            .where(
                BacktestRun.id == chunk.run_id,
                BacktestRun.user_id == chunk.user_id,
                BacktestRun.status == "running",
            )
            .values(progress=progress)
        )
        row = await BacktestRunRepository(session, chunk.user_id).get(chunk.run_id)
        stop = row.cancel_requested or row.status != "running"
    if not stop:
        await publish_progress(ctx, chunk.user_id, chunk.run_id, "running", progress)
    return stop


async def finish(ctx: RunContext, user_id: int, run_id: int) -> str:
    """End the run if every point is written: done with the points ranked, cancelled, or
    failed with the first point's error; under the row lock, so it ends once."""
    async with ctx.sessions() as session, session.begin():
        row = await BacktestRunRepository(session, user_id).get(run_id, for_update=True)
        if row.status != "running":
            return row.status
        submission = Submission.from_json(row.request)
        assert submission.sweep is not None
        request = submission.request
        points, refused = grid_points(request.strategy, request.params, submission.sweep.grid)
        written = await SweepPointRepository(session, user_id).written(run_id)
        if len(written) < len(points):
            return "running"  # other tasks still run points
        errors = [p.error for p in written if p.error is not None]
        summaries = [p.summary for p in written]
        result, error = None, errors[0] if errors else None
        if error is not None:
            status = "failed"
        elif row.cancel_requested or any(s is None for s in summaries):
            status = "cancelled"
        else:
            status = "done"
            rank_by = submission.sweep.rank_by
            ranked = rank(points, [s for s in summaries if s is not None], rank_by)
            result = sweep_result(ranked, refused, rank_by)
        row.status, row.finished_at = status, ctx.clock.now()
        row.result, row.error = result, error
        row.progress = 1.0 if status == "done" else row.progress
        progress = row.progress
    await publish_progress(ctx, user_id, run_id, status, progress, error)
    return status
