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
import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
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
    build_report,
    check_request,
)
from .backtest.data import TIMEFRAME_NS
from .backtest.engine import warmup_bars
from .backtest.lookahead import lookahead_section
from .backtest.portfolio import SymbolData, run_portfolio
from .backtest.sweep import grid_points, inputs_key, run_sweep, sweep_result, sweep_warmup
from .backtest.walkforward import WalkForwardSpec, run_walk_forward, split, walk_forward_report
from .backtest_store import minute_bars, range_data
from .datasets import BacktestDatasetRepository, load_dataset

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")
POLL_SECONDS = 0.25
BACKTEST_MAX_SYMBOLS = 20
"""Instruments one run may take (one account each, reported as one portfolio)."""


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
    """A validated run to store: what, over which range (or on which uploaded data), and
    optionally a grid and walk-forward folds."""

    request: BacktestRequest
    start: datetime | None
    end: datetime | None
    use_my_risk_limits: bool = False
    sweep: SweepSpec | None = None
    dataset_id: int | None = None
    """Candles the user uploaded, instead of the store's over ``[start, end)``."""
    intrabar_dataset_id: int | None = None
    """Finer uploaded candles to replay inside bars that reach a stop or a target."""
    walk_forward: WalkForwardSpec | None = None
    symbols: tuple[str, ...] = ()
    """Every instrument of the run, the request's first (one account each); given empty,
    the request's one."""
    check_lookahead: bool = False
    """Evaluate every signal again on the data cut at its bar (a backtest, or each fold of a
    walk-forward run); the result's ``lookahead`` lists what changed."""
    dataset_ids: tuple[int, ...] = ()
    """Uploaded candles of each symbol, in the order of ``symbols``; given empty, the
    ``dataset_id`` (if any)."""

    def __post_init__(self) -> None:
        if not self.symbols:
            object.__setattr__(self, "symbols", (self.request.symbol,))
        elif self.symbols[0] != self.request.symbol:
            raise ValueError("the request's symbol must be the first of the run's symbols")
        if not self.dataset_ids and self.dataset_id is not None:
            object.__setattr__(self, "dataset_ids", (self.dataset_id,))

    @property
    def kind(self) -> str:
        if self.walk_forward is not None:
            return "walk_forward"
        return "sweep" if self.sweep is not None else "backtest"

    def to_json(self) -> dict[str, Any]:
        wf = self.walk_forward
        return {
            "request": self.request.model_dump(mode="json"),
            "symbols": list(self.symbols),
            "start": self.start.isoformat() if self.start is not None else None,
            "end": self.end.isoformat() if self.end is not None else None,
            "use_my_risk_limits": self.use_my_risk_limits,
            "sweep": None
            if self.sweep is None
            else {"grid": self.sweep.grid, "rank_by": self.sweep.rank_by},
            "dataset_id": self.dataset_id,
            "intrabar_dataset_id": self.intrabar_dataset_id,
            "walk_forward": None
            if wf is None
            else {"folds": wf.folds, "out_of_sample": wf.out_of_sample, "anchored": wf.anchored},
            "check_lookahead": self.check_lookahead,
            "dataset_ids": list(self.dataset_ids),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Submission:
        sweep = data.get("sweep")
        wf = data.get("walk_forward")
        return cls(
            request=BacktestRequest.model_validate(data["request"]),
            start=datetime.fromisoformat(data["start"]) if data.get("start") else None,
            end=datetime.fromisoformat(data["end"]) if data.get("end") else None,
            use_my_risk_limits=bool(data.get("use_my_risk_limits")),
            sweep=SweepSpec(sweep["grid"], sweep["rank_by"]) if sweep else None,
            dataset_id=data.get("dataset_id"),
            intrabar_dataset_id=data.get("intrabar_dataset_id"),
            walk_forward=WalkForwardSpec(**wf) if wf else None,
            symbols=tuple(data.get("symbols") or ()),
            check_lookahead=bool(data.get("check_lookahead")),
            dataset_ids=tuple(data.get("dataset_ids") or ()),
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
        strategy = check_request(request)  # unknown strategy, parameters, timeframe
        self._check_symbols(submission)
        self._check_grid(submission)
        if submission.check_lookahead and submission.kind == "sweep":
            raise Unprocessable(
                "check_lookahead goes with a backtest or a walk-forward run, not a sweep "
                "(a sweep keeps only its points' figures)"
            )
        if not submission.dataset_ids:
            self._check_range(submission)
        if await self.repo.active_count() >= self.limits.max_concurrent:
            raise TooManyRequests(
                f"{self.limits.max_concurrent} backtests are already queued or running; "
                "wait for one to finish or cancel it",
                retry_after=5,
                code="backtest_limit",
            )
        if submission.dataset_ids:
            await self._check_datasets(submission, strategy.warmup)
        else:
            for symbol in submission.symbols:
                await self._has_candles(symbol, request.timeframe, submission)
        row = BacktestRun(
            user_id=self.user_id,
            kind=submission.kind,
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

    @staticmethod
    def _check_symbols(submission: Submission) -> None:
        """At most ``BACKTEST_MAX_SYMBOLS``, each once; uploaded candles one dataset per
        symbol, in the same order."""
        symbols = submission.symbols
        if len(symbols) > BACKTEST_MAX_SYMBOLS:
            raise Unprocessable(f"at most {BACKTEST_MAX_SYMBOLS} symbols are allowed per run")
        repeated = sorted({s for s in symbols if symbols.count(s) > 1})
        if repeated:
            raise Unprocessable(f"symbols must not repeat an instrument ({', '.join(repeated)})")
        ids = submission.dataset_ids
        if ids and len(ids) != len(symbols):
            field_name = "dataset_id" if submission.dataset_id is not None else "dataset_ids"
            raise Unprocessable(
                f"{field_name}: give one uploaded dataset per symbol, in the order of the "
                f"symbols ({len(ids)} for {len(symbols)} symbols; dataset_ids takes several)"
            )

    def _check_grid(self, submission: Submission) -> None:
        """The grid has points the strategy accepts, within the sweep limit (times the folds)."""
        request, sweep, wf = submission.request, submission.sweep, submission.walk_forward
        if sweep is None:
            return
        points, _ = grid_points(request.strategy, request.params, sweep.grid)
        if not points:
            raise Unprocessable("no point of the grid fits the strategy's parameters")
        runs = len(points) * (wf.folds if wf else 1)
        if runs > self.limits.max_sweep_points:
            raise Unprocessable(
                f"the grid has {len(points)} points"
                + (f" in each of {wf.folds} folds" if wf else "")
                + f"; at most {self.limits.max_sweep_points} runs are allowed"
            )

    def _check_range(self, submission: Submission) -> None:
        start, end, timeframe = submission.start, submission.end, submission.request.timeframe
        if start is None or end is None:
            raise Unprocessable("give start and end, or the dataset_id of uploaded candles")
        if end <= start:
            raise Unprocessable("the range's end must be after its start")
        estimate = int((end - start) / timedelta(microseconds=1)) * 1000
        count = len(submission.symbols)
        if estimate // TIMEFRAME_NS[timeframe] * count > self.limits.max_bars:
            over = f" over {count} symbols" if count > 1 else ""
            raise Unprocessable(
                f"the range spans more than {self.limits.max_bars:,} {timeframe} bars{over} "
                "(the per-run limit)"
            )

    async def _check_datasets(self, submission: Submission, warmup: int) -> None:
        """The uploaded candles are the user's (404 otherwise), each of its symbol (in the
        order of the run's symbols) and the run's timeframe, within the bar limit together;
        finer candles divide the run's timeframe and go with stops."""
        request = submission.request
        datasets = BacktestDatasetRepository(self.session, self.user_id)
        total = 0
        for symbol, dataset_id in zip(submission.symbols, submission.dataset_ids, strict=True):
            data = await datasets.get(dataset_id)
            if (data.symbol, data.timeframe) != (symbol, request.timeframe.value):
                raise Unprocessable(
                    f"dataset {data.id} holds {data.timeframe} candles of {data.symbol}, not "
                    f"{request.timeframe} candles of {symbol}",
                    code="dataset_mismatch",
                )
            total += data.bars
            if total > self.limits.max_bars:
                several = len(submission.dataset_ids) > 1
                raise Unprocessable(
                    ("the datasets have" if several else "the dataset has")
                    + f" more than {self.limits.max_bars:,} bars"
                    + (" together" if several else "")
                )
            if submission.walk_forward is not None:
                split(data.bars, submission.walk_forward, warmup)  # the time line has more
        if submission.intrabar_dataset_id is None:
            return
        if len(submission.dataset_ids) > 1:
            raise Unprocessable(
                "intrabar_dataset_id goes with one symbol's dataset_id; finer candles of "
                "several symbols are not taken"
            )
        if not request.settings.stops:
            raise Unprocessable("finer candles are replayed only for stops and targets (stops)")
        fine = await datasets.get(submission.intrabar_dataset_id)
        step, fine_step = TIMEFRAME_NS[request.timeframe], TIMEFRAME_NS[Timeframe(fine.timeframe)]
        if fine.symbol != request.symbol or fine_step >= step or step % fine_step:
            raise Unprocessable(
                f"dataset {fine.id} ({fine.timeframe} candles of {fine.symbol}) cannot be "
                f"replayed inside {request.timeframe} bars of {request.symbol}",
                code="dataset_mismatch",
            )
        if fine.bars > self.limits.max_bars:
            raise Unprocessable(f"the finer dataset has more than {self.limits.max_bars:,} bars")

    async def _has_candles(self, symbol: str, timeframe: Timeframe, s: Submission) -> None:
        if self.tickstore is None or s.start is None or s.end is None:
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


class PointDispatch(Protocol):
    """Sends a sweep's grid points out as tasks of their own (distributed profile)."""

    async def dispatch(
        self, user_id: int, run_id: int, request: BacktestRequest, data_key: str, total: int
    ) -> None:
        """Send points ``0..total`` of the run's grid; ``request`` is the run's, as it runs
        (the user's risk limits in it), ``data_key`` what the run read (``inputs_key``)."""


@dataclass
class RunContext:
    """The clients a runner needs, in whichever process it runs."""

    sessions: async_sessionmaker[AsyncSession]
    tickstore: TickStore
    clock: Clock
    bus: EventBus | None
    limits: BacktestLimits
    sweep_processes: int = 1
    """Processes a sweep's points run on (1: one after the other in the run's thread)."""
    executor: Executor | None = None
    """A process pool of ``sweep_processes`` shared by the runs (embedded); None: a sweep
    makes its own pool when ``sweep_processes`` is above 1."""
    dispatch: PointDispatch | None = None
    """Where a sweep's points go as tasks of their own (distributed); None: in this run."""


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
    await publish_progress(ctx, user_id, run_id, "running", 0.0)
    shared = _Shared(stop=stop)
    status, result, error, bars = "failed", None, None, None
    try:
        request = submission.request
        if limits is not None:
            request = request.model_copy(
                update={"settings": request.settings.model_copy(update={"risk": limits})}
            )
        data = await load_inputs(ctx, user_id, submission, request)
        bars = sum(d.traded_bars for d in data)
        if ctx.dispatch is not None and submission.kind == "sweep":
            # The points run as tasks of their own; the last one to finish ends the run.
            await _fan_out(ctx, ctx.dispatch, user_id, run_id, submission, request, data)
            return "running"
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
    await publish_progress(
        ctx, user_id, run_id, status, 1.0 if status == "done" else shared.progress, error
    )
    return status


async def _fan_out(
    ctx: RunContext,
    dispatch: PointDispatch,
    user_id: int,
    run_id: int,
    submission: Submission,
    request: BacktestRequest,
    data: list[SymbolData],
) -> None:
    assert submission.sweep is not None
    points, _ = grid_points(request.strategy, request.params, submission.sweep.grid)
    async with ctx.sessions() as session, session.begin():
        await session.execute(
            update(BacktestRun)
            .where(BacktestRun.id == run_id, BacktestRun.user_id == user_id)
            .values(bars=sum(d.traded_bars for d in data))
        )
    await dispatch.dispatch(user_id, run_id, request, inputs_key(data), len(points))


async def load_inputs(
    ctx: RunContext, user_id: int, submission: Submission, request: BacktestRequest
) -> list[SymbolData]:
    """Each symbol's bars: uploaded, or the store's over the range with the warm-up before
    it (within the bar limit over all symbols); and the finer candles to replay inside them:
    uploaded ones, or the store's 1m candles when there are any (with stops on bars longer
    than a minute, and within the bar limit)."""
    if submission.dataset_ids:
        out: list[SymbolData] = []
        async with ctx.sessions() as session:
            for symbol, dataset_id in zip(submission.symbols, submission.dataset_ids, strict=True):
                _, bars = await load_dataset(session, user_id, dataset_id, symbol=symbol)
                fine = None
                if submission.intrabar_dataset_id is not None:
                    _, fine = await load_dataset(
                        session, user_id, submission.intrabar_dataset_id, symbol=symbol
                    )
                out.append(SymbolData(bars, fine=fine))
        return out
    start, end = submission.start, submission.end
    assert start is not None and end is not None
    warmup = _warmup(submission, request)
    limit, used = ctx.limits.max_bars, 0
    out = []
    for symbol in submission.symbols:
        data = await range_data(
            ctx.tickstore, symbol, request.timeframe, start, end, warmup=warmup, limit=limit,
            used=used,
        )  # fmt: skip
        used += data.traded_bars
        fine = None
        if request.settings.stops and request.timeframe is not Timeframe.M1:
            fine = await minute_bars(ctx.tickstore, symbol, start, end, limit=limit)
        out.append(SymbolData(data.bars, data.trade_from, fine))
    return out


def _warmup(submission: Submission, request: BacktestRequest) -> int:
    """Bars read before the range: what the strategy (the longest of a grid's points) needs
    to decide on the first bar. A walk-forward run reads none (its windows are cut from the
    range; each out-of-sample window reads the bars before it)."""
    if submission.walk_forward is not None:
        return 0
    if submission.sweep is not None:
        return sweep_warmup(request, submission.sweep.grid)
    return warmup_bars(request)


def _compute(
    ctx: RunContext,
    submission: Submission,
    request: BacktestRequest,
    data: list[SymbolData],
    shared: _Shared,
) -> dict[str, Any]:
    def progress(done: float) -> None:
        shared.progress = done

    if submission.walk_forward is not None:
        spec, sweep = submission.walk_forward, submission.sweep
        folds = run_walk_forward(
            request, data, spec, grid=sweep.grid if sweep else None,
            rank_by=sweep.rank_by if sweep else "sharpe", processes=ctx.sweep_processes,
            executor=ctx.executor, max_points=ctx.limits.max_sweep_points, progress=progress,
            cancelled=shared.stop.is_set,
        )  # fmt: skip
        report = walk_forward_report(
            request, data, spec, folds, rank_by=sweep.rank_by if sweep else None
        )
        if submission.check_lookahead:
            checked = [(f.fold.index + 1, run) for f in folds for run in f.runs]
            report["lookahead"] = lookahead_section(checked)
        return report
    if submission.sweep is None:
        runs = run_portfolio(
            request, data, progress=lambda n, done: progress((n + done) / len(data)),
            cancelled=shared.stop.is_set,
        )  # fmt: skip
        report = build_report(runs)
        if submission.check_lookahead:
            report["lookahead"] = lookahead_section([(None, r) for r in runs])
        return report

    def point(n: int, total: int) -> None:
        shared.progress = n / total
        if shared.stop.is_set():
            raise BacktestCancelled("the sweep was cancelled")

    ranked, refused = run_sweep(
        request, data, submission.sweep.grid, rank_by=submission.sweep.rank_by,
        processes=ctx.sweep_processes, executor=ctx.executor,
        max_points=ctx.limits.max_sweep_points, on_point=point,
    )  # fmt: skip
    return sweep_result(ranked, refused, submission.sweep.rank_by)


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
    await publish_progress(ctx, user_id, run_id, "running", shared.progress)


async def publish_progress(
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
        if ctx.executor is None and ctx.sweep_processes > 1:
            # One pool for every run of the process, so sweeps together never take more
            # than its processes; they are started on first use. Spawned, not forked (a
            # fork of a process whose threads hold a lock would wait on it forever).
            ctx.executor = ProcessPoolExecutor(
                max_workers=ctx.sweep_processes, mp_context=multiprocessing.get_context("spawn")
            )

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
        if self.ctx.executor is not None:
            # Points not started are dropped; a worker ends with the chunk it runs.
            self.ctx.executor.shutdown(wait=False, cancel_futures=True)
            self.ctx.executor = None


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
    ctx = RunContext(
        sessions, tickstore, clock, bus, limits_from(settings),
        sweep_processes=settings.backtest_sweep_processes,
    )  # fmt: skip
    return InProcessLauncher(ctx)
