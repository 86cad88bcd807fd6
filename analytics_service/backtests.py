"""Backtest runs of one user: submit, list, read, cancel, delete; and the runner that does one.

A run is a row (``shared.models.BacktestRun``) owned by its user. Submitting checks the
request (strategy, parameters, sizing, the timeframe, candles in the range, the user's
limits) and stores it queued; the launcher then runs it: in this process (embedded: an
asyncio task, the engine in a thread) or as a Celery task (distributed). The runner moves
the row to running, reads the candles from the tick store, runs the engine, writes
progress and publishes it on the user's channel, and ends the row done (with the report),
failed (with why) or cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.bus import EventBus
from shared.clock import Clock
from shared.config import Settings
from shared.contracts import BacktestProgressMsg, Timeframe, user_channel
from shared.errors import Conflict, DomainError, TooManyRequests, Unprocessable
from shared.models import BacktestRun, UserRiskLimits
from shared.repository import Page, UserScopedRepository
from shared.tickstore import TickStore

from .backtest import (
    BacktestCancelled,
    BacktestRequest,
    RiskLimits,
    bars_from_candles,
    build_report,
    check_request,
    market_for,
    run_backtest,
)
from .backtest.data import TIMEFRAME_NS
from .backtest.sweep import grid_points, run_sweep

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")
POLL_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class BacktestLimits:
    """Per-user bounds (from ``Settings``)."""

    max_concurrent: int = 2
    max_bars: int = 2_000_000
    max_sweep_points: int = 200


def limits_from(settings: Settings) -> BacktestLimits:
    return BacktestLimits(
        max_concurrent=settings.backtest_max_concurrent,
        max_bars=settings.backtest_max_bars,
        max_sweep_points=settings.backtest_max_sweep_points,
    )


@dataclass(frozen=True, slots=True)
class SweepSpec:
    grid: dict[str, list[Any]]
    rank_by: str = "sharpe"


@dataclass(frozen=True, slots=True)
class Submission:
    """A validated run to store: what, over which range, and optionally a grid."""

    request: BacktestRequest
    start: datetime
    end: datetime
    use_my_risk_limits: bool = False
    sweep: SweepSpec | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "request": self.request.model_dump(mode="json"),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "use_my_risk_limits": self.use_my_risk_limits,
            "sweep": None
            if self.sweep is None
            else {"grid": self.sweep.grid, "rank_by": self.sweep.rank_by},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Submission:
        sweep = data.get("sweep")
        return cls(
            request=BacktestRequest.model_validate(data["request"]),
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            use_my_risk_limits=bool(data.get("use_my_risk_limits")),
            sweep=SweepSpec(sweep["grid"], sweep["rank_by"]) if sweep else None,
        )


class Launcher(Protocol):
    """Starts a stored, queued run somewhere (this process, a Celery worker)."""

    async def launch(self, user_id: int, run_id: int) -> None: ...

    def cancel(self, run_id: int) -> None:
        """Tell a run of this process to stop (a no-op where runs are elsewhere)."""

    async def stop(self) -> None:
        """Stop the runs of this process (shutting down)."""


class BacktestRunRepository(UserScopedRepository[BacktestRun]):
    model = BacktestRun
    not_found_message = "backtest run not found"

    async def active_count(self) -> int:
        stmt = select(func.count()).select_from(
            self._scoped().where(BacktestRun.status.in_(ACTIVE)).subquery()
        )
        return int(await self.session.scalar(stmt) or 0)

    async def page(self, limit: int, offset: int) -> Page[BacktestRun]:
        return await self.list(limit, offset, order_by=BacktestRun.id.desc())

    async def risk_limits(self) -> RiskLimits:
        row = await self.session.get(UserRiskLimits, self.user_id)
        return (
            RiskLimits.model_validate(row.limits)
            if row is not None and row.limits
            else (RiskLimits())
        )


class BacktestService:
    """One user's backtest runs (every id looked up as theirs: 404 if not)."""

    def __init__(
        self,
        session: AsyncSession,
        user_id: int,
        *,
        now: datetime,
        limits: BacktestLimits,
        tickstore: TickStore | None,
    ) -> None:
        self.repo = BacktestRunRepository(session, user_id)
        self.session = session
        self.user_id = user_id
        self.now = now
        self.limits = limits
        self.tickstore = tickstore

    async def submit(self, submission: Submission) -> BacktestRun:
        """Check ``submission`` and store it queued (4xx for anything that cannot run)."""
        request = submission.request
        check_request(request)  # unknown strategy, parameters, timeframe
        if submission.end <= submission.start:
            raise Unprocessable("the range's end must be after its start")
        estimate = int((submission.end - submission.start) / timedelta(microseconds=1)) * 1000
        if estimate // TIMEFRAME_NS[request.timeframe] > self.limits.max_bars:
            raise Unprocessable(
                f"the range spans more than {self.limits.max_bars:,} {request.timeframe} bars "
                "(the per-run limit)"
            )
        if submission.sweep is not None:
            points, _ = grid_points(request.strategy, request.params, submission.sweep.grid)
            if not points:
                raise Unprocessable("no point of the grid fits the strategy's parameters")
            if len(points) > self.limits.max_sweep_points:
                raise Unprocessable(
                    f"the grid has {len(points)} points; at most "
                    f"{self.limits.max_sweep_points} are allowed"
                )
        if await self.repo.active_count() >= self.limits.max_concurrent:
            raise TooManyRequests(
                f"{self.limits.max_concurrent} backtests are already queued or running; "
                "wait for one to finish or cancel it",
                retry_after=5,
                code="backtest_limit",
            )
        await self._has_candles(request.symbol, request.timeframe, submission)
        row = BacktestRun(
            user_id=self.user_id,
            kind="sweep" if submission.sweep is not None else "backtest",
            status="queued",
            strategy=request.strategy,
            symbol=request.symbol,
            timeframe=request.timeframe.value,
            request=submission.to_json(),
            progress=0.0,
            cancel_requested=False,
            created_at=self.now,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def _has_candles(self, symbol: str, timeframe: Timeframe, s: Submission) -> None:
        if self.tickstore is None:
            return
        found = await self.tickstore.query_candles(symbol, timeframe, s.start, s.end, limit=1)
        if not found:
            raise Unprocessable(
                f"no {timeframe} candles of {symbol} between {s.start.isoformat()} and "
                f"{s.end.isoformat()}"
            )

    async def list(self, limit: int, offset: int) -> Page[BacktestRun]:
        return await self.repo.page(limit, offset)

    async def get(self, run_id: int) -> BacktestRun:
        return await self.repo.get(run_id)

    async def cancel(self, run_id: int) -> BacktestRun:
        """Ask a queued or running run to stop (a queued one stops at once)."""
        row = await self.repo.get(run_id, for_update=True)
        if row.status not in ACTIVE:
            raise Conflict(
                f"the run is {row.status}; only a queued or running run can be cancelled"
            )
        row.cancel_requested = True
        if row.status == "queued":
            row.status, row.finished_at = "cancelled", self.now
        return row

    async def delete(self, run_id: int) -> None:
        """Forget a finished run (an active one must be cancelled first)."""
        row = await self.repo.get(run_id, for_update=True)
        if row.status in ACTIVE:
            raise Conflict("cancel the run before deleting it")
        await self.session.delete(row)


# -- running -------------------------------------------------------------------------


@dataclass
class _Shared:
    """What the engine's thread and the event loop share while a run goes on."""

    progress: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass
class RunContext:
    """The clients a runner needs, in whichever process it runs."""

    sessions: async_sessionmaker[AsyncSession]
    tickstore: TickStore
    clock: Clock
    bus: EventBus | None
    limits: BacktestLimits
    sweep_processes: int = 1


async def execute_run(ctx: RunContext, user_id: int, run_id: int, stop: threading.Event) -> str:
    """Run one stored run to its end; returns its final status (safe to call twice)."""
    async with ctx.sessions() as session, session.begin():
        repo = BacktestRunRepository(session, user_id)
        row = await repo.get(run_id, for_update=True)
        if row.status != "queued":
            return row.status  # cancelled before it started, or already run
        row.status, row.started_at = "running", ctx.clock.now()
        submission = Submission.from_json(row.request)
        limits = await repo.risk_limits() if submission.use_my_risk_limits else None
    await _publish(ctx, user_id, run_id, "running", 0.0)
    shared = _Shared(stop=stop)
    status, result, error, bars = "failed", None, None, None
    try:
        request = submission.request
        if limits is not None:
            request = request.model_copy(
                update={"settings": request.settings.model_copy(update={"risk": limits})}
            )
        candles = await ctx.tickstore.query_candles(
            request.symbol, request.timeframe, submission.start, submission.end,
            limit=ctx.limits.max_bars + 1,
        )  # fmt: skip
        if len(candles) > ctx.limits.max_bars:
            raise Unprocessable(f"more than {ctx.limits.max_bars:,} bars in the range")
        data = bars_from_candles(request.symbol, request.timeframe, candles)
        bars = len(data)
        work = asyncio.create_task(
            asyncio.to_thread(_compute, ctx, submission, request, data, shared)
        )
        while not work.done():
            await asyncio.wait({work}, timeout=POLL_SECONDS)
            if not work.done():
                await _beat(ctx, user_id, run_id, shared)
        result = work.result()
        status = "done"
    except BacktestCancelled:
        status = "cancelled"
    except DomainError as exc:
        error = exc.message
    except Exception as exc:  # recorded on the run: the user sees it failed and why
        log.exception("backtest run %s failed", run_id)
        error = f"internal error: {type(exc).__name__}"
    async with ctx.sessions() as session, session.begin():
        row = await BacktestRunRepository(session, user_id).get(run_id, for_update=True)
        if row.cancel_requested or stop.is_set():
            # Asked to stop before its result was stored: it ends cancelled, result dropped.
            status, result, error = "cancelled", None, None
        row.status, row.finished_at, row.bars = status, ctx.clock.now(), bars
        row.result, row.error = result, error
        row.progress = 1.0 if status == "done" else row.progress
    await _publish(
        ctx, user_id, run_id, status, 1.0 if status == "done" else shared.progress, error
    )
    return status


def _compute(
    ctx: RunContext, submission: Submission, request: BacktestRequest, data: Any, shared: _Shared
) -> dict[str, Any]:
    def progress(done: float) -> None:
        shared.progress = done

    if submission.sweep is None:
        instrument, fees = market_for(request.symbol)
        run = run_backtest(
            request, data, instrument, fees, progress=progress, cancelled=shared.stop.is_set
        )
        return build_report(run)

    def point(n: int, total: int) -> None:
        shared.progress = n / total
        if shared.stop.is_set():
            raise BacktestCancelled("the sweep was cancelled")

    ranked, refused = run_sweep(
        request, data, submission.sweep.grid, rank_by=submission.sweep.rank_by,
        processes=ctx.sweep_processes, max_points=ctx.limits.max_sweep_points, on_point=point,
    )  # fmt: skip
    return {
        "rank_by": submission.sweep.rank_by,
        "refused": refused,
        "points": [{"params": p.params, **p.summary} for p in ranked],
    }


async def _beat(ctx: RunContext, user_id: int, run_id: int, shared: _Shared) -> None:
    """Store the progress, pick up a cancel asked for elsewhere, and tell the user."""
    async with ctx.sessions() as session, session.begin():
        await session.execute(
            update(BacktestRun)
            .where(BacktestRun.id == run_id, BacktestRun.user_id == user_id)
            .values(progress=round(shared.progress, 4))
        )
        asked = await session.scalar(
            select(BacktestRun.cancel_requested).where(
                BacktestRun.id == run_id, BacktestRun.user_id == user_id
            )
        )
    if asked:
        shared.stop.set()
    await _publish(ctx, user_id, run_id, "running", shared.progress)


async def _publish(
    ctx: RunContext,
    user_id: int,
    run_id: int,
    status: str,
    progress: float,
    error: str | None = None,
) -> None:
    if ctx.bus is None:
        return
    message = BacktestProgressMsg(
        user_id=user_id,
        run_id=run_id,
        status=status,
        progress=min(1.0, max(0.0, progress)),
        error=error,
        ts=ctx.clock.now(),
    )
    try:
        await ctx.bus.publish(user_channel(user_id), message)
    except Exception:  # progress may be dropped: the row is the truth
        log.warning("backtest progress of run %s not published", run_id, exc_info=True)


class InProcessLauncher:
    """Runs backtests as asyncio tasks of this process (embedded profile)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._tasks: dict[int, tuple[asyncio.Task[str], threading.Event]] = {}

    async def launch(self, user_id: int, run_id: int) -> None:
        stop = threading.Event()
        task = asyncio.create_task(
            execute_run(self.ctx, user_id, run_id, stop), name=f"backtest-{run_id}"
        )
        self._tasks[run_id] = (task, stop)
        task.add_done_callback(lambda _: self._tasks.pop(run_id, None))

    def cancel(self, run_id: int) -> None:
        running = self._tasks.get(run_id)
        if running is not None:
            running[1].set()

    async def wait(self, run_id: int) -> str | None:
        """The final status of a run of this process (None: not running here)."""
        running = self._tasks.get(run_id)
        return await running[0] if running is not None else None

    async def stop(self) -> None:
        for task, stop in list(self._tasks.values()):
            stop.set()
            task.cancel()
        await asyncio.gather(*(t for t, _ in self._tasks.values()), return_exceptions=True)


class TaskSender(Protocol):
    def send_task(self, name: str, args: Sequence[Any] = ..., **options: Any) -> Any: ...


class CeleryLauncher:
    """Sends each run to the analytics workers as a Celery task (distributed profile)."""

    def __init__(self, sender: TaskSender, queue: str) -> None:
        self.sender = sender
        self.queue = queue

    async def launch(self, user_id: int, run_id: int) -> None:
        from shared.contracts import TASK_RUN_BACKTEST

        await asyncio.to_thread(
            self.sender.send_task, TASK_RUN_BACKTEST, args=[user_id, run_id], queue=self.queue
        )

    def cancel(self, run_id: int) -> None:
        """The worker sees ``cancel_requested`` on its next progress beat."""

    async def stop(self) -> None:
        """Runs live in the workers: nothing to stop here."""


async def fail_interrupted(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Runs left queued or running by a process that stopped (embedded: they ran in it) are
    failed with that reason; returns how many. A platform-wide sweep at start-up."""
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(BacktestRun)
            .where(BacktestRun.status.in_(ACTIVE))
            .values(status="failed", error="the platform stopped while it ran", finished_at=now)
        )
    return int(getattr(result, "rowcount", 0) or 0)


def launcher_from_settings(
    settings: Settings,
    *,
    sessions: async_sessionmaker[AsyncSession],
    tickstore: TickStore,
    clock: Clock,
    bus: EventBus | None,
) -> Launcher:
    """In-process runs (embedded profile), or Celery tasks on ``backtest_queue`` (distributed)."""
    from shared.config import Profile

    if settings.profile is Profile.DISTRIBUTED:
        from celery import Celery

        from shared.tasks import broker_url

        sender = Celery("analytics_client", broker=broker_url(settings), set_as_current=False)
        return CeleryLauncher(sender, settings.backtest_queue)
    ctx = RunContext(sessions, tickstore, clock, bus, limits_from(settings), sweep_processes=1)
    return InProcessLauncher(ctx)
