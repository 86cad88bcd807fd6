"""Parameter sweeps: one backtest per point of a grid, across processes, ranked by a metric.

A grid names values per parameter (``fast=5,10,20`` or a range ``fast=5:30:5``, the stop
included); every combination the strategy's parameter model accepts is run (the others,
e.g. a slow average shorter than the fast one, are counted as refused). Each point is a
whole backtest with the same settings and data (several symbols: one portfolio run over
all of them, as a several-symbol backtest). The points run in this thread, in a process
pool, or (the service's distributed runs) as Celery tasks that rank with ``rank`` here.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from analytics_service.metrics.report import PerformanceReport
from shared.errors import DomainError, Unprocessable
from strategy_workers.strategies.registry import registry as default_registry

from .data import Bars
from .engine import run_backtest, warmup_bars
from .market import market_for
from .portfolio import SymbolData, run_portfolio
from .report import metrics
from .results import BacktestRun
from .settings import BacktestRequest

RANK_METRICS: dict[str, Callable[[dict[str, Any]], float | None]] = {
    "sharpe": lambda m: m["sharpe"],
    "sortino": lambda m: m["sortino"],
    "calmar": lambda m: m["calmar"],
    "total_return": lambda m: m["total_return"],
    "net_pnl": lambda m: m["net_pnl"],
    "profit_factor": lambda m: m["profit_factor"],
    "win_rate": lambda m: m["win_rate"],
    "max_drawdown": lambda m: m["max_drawdown"],  # closer to zero ranks higher
    "expectancy": lambda m: m["expectancy"],
}


@dataclass(frozen=True, slots=True)
class SweepPoint:
    params: dict[str, Any]
    summary: dict[str, Any]


def parse_values(text: str) -> list[Any]:
    """``5,10,20`` or ``5:30:5`` (start:stop:step, stop included) or words (``sma,ema``)."""
    text = text.strip()
    if text.count(":") == 2:
        start_s, stop_s, step_s = (part.strip() for part in text.split(":"))
        start, stop, step = Decimal(start_s), Decimal(stop_s), Decimal(step_s)
        if step <= 0 or stop < start:
            raise Unprocessable(f"range {text!r} needs start <= stop and a positive step")
        count = int((stop - start) / step) + 1
        values = [start + step * k for k in range(count)]
        whole = all(v == v.to_integral_value() for v in values)
        return [int(v) if whole else float(v) for v in values]
    out: list[Any] = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        try:
            number = Decimal(item)
        except ArithmeticError:
            out.append(item)
            continue
        out.append(int(number) if number == number.to_integral_value() else float(number))
    if not out:
        raise Unprocessable(f"no values in {text!r}")
    return out


def grid_points(
    strategy: str, base: Mapping[str, Any], grid: Mapping[str, Sequence[Any]]
) -> tuple[list[dict[str, Any]], int]:
    """Every combination the parameter model accepts, and how many it refused."""
    names = list(grid)
    accepted: list[dict[str, Any]] = []
    refused = 0
    for combo in itertools.product(*(grid[n] for n in names)):
        params = {**base, **dict(zip(names, combo, strict=True))}
        try:
            default_registry.validate_params(strategy, params)
        except DomainError:
            refused += 1
            continue
        accepted.append(params)
    return accepted, refused


def point_summary(
    request: BacktestRequest,
    data: Sequence[SymbolData],
    cancelled: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """The headline figures of one grid point: a backtest of each symbol of ``data`` (one
    account each, as a several-symbol backtest runs them), reported as one portfolio."""
    return headline(metrics(run_portfolio(request, data, cancelled=cancelled)))


def point_run(request: BacktestRequest, bars: Bars, trade_from: int = 0) -> BacktestRun:
    """One grid point's whole run (a sweep keeps only its figures; its page re-runs the best)."""
    instrument, fees = market_for(request.symbol)
    return run_backtest(request, bars, instrument, fees, trade_from=trade_from)


def inputs_key(data: Sequence[SymbolData]) -> str:
    """What a run read, as one hash: each symbol's bars and finer candles, and where its
    traded bars start (a task that reads the data again must find the same)."""
    digest = hashlib.sha256()
    for item in data:
        fine = item.fine.data_hash() if item.fine is not None else "-"
        digest.update(f"{item.bars.symbol}|{item.bars.data_hash()}|{item.trade_from}|".encode())
        digest.update(f"{fine}|".encode())
    return digest.hexdigest()


def sweep_warmup(request: BacktestRequest, grid: Mapping[str, Sequence[Any]]) -> int:
    """The warm-up a sweep reads before its range: the longest of its accepted points'."""
    points, _ = grid_points(request.strategy, request.params, grid)
    return max((warmup_bars(request.model_copy(update={"params": p})) for p in points), default=0)


def headline(report: PerformanceReport) -> dict[str, Any]:
    """The figures a sweep ranks and a walk-forward fold shows, from a run's report."""
    period, trades = report.period, report.trades
    drawdown = period.max_drawdown.depth if period.max_drawdown is not None else 0.0
    return {
        "sharpe": period.sharpe,
        "sortino": period.sortino,
        "calmar": period.calmar,
        "total_return": period.total_return,
        "max_drawdown": drawdown,
        "net_pnl": float(report.pnl),
        "trades": trades.count,
        "win_rate": trades.win_rate,
        "profit_factor": trades.profit_factor,
        "expectancy": float(trades.expectancy) if trades.expectancy is not None else None,
        "charges": float(report.charges),
        "flags": report.flags,
    }


def _chunk(args: tuple[list[BacktestRequest], list[SymbolData]]) -> list[dict[str, Any]]:
    requests, data = args
    return [point_summary(r, data) for r in requests]


def rank(
    points: Sequence[dict[str, Any]], summaries: Sequence[dict[str, Any]], rank_by: str
) -> list[SweepPoint]:
    """The points with their figures, best first by ``rank_by`` (ties keep the grid's order;
    a missing or infinite figure ranks last)."""
    key = RANK_METRICS[rank_by]

    def order(item: SweepPoint) -> float:
        value = key(item.summary)
        return -math.inf if value is None or not math.isfinite(value) else value

    return sorted(
        (SweepPoint(dict(p), dict(r)) for p, r in zip(points, summaries, strict=True)),
        key=order,
        reverse=True,
    )


def sweep_result(ranked: Sequence[SweepPoint], refused: int, rank_by: str) -> dict[str, Any]:
    """A sweep's result as stored and written: the metric, the refused count, every point."""
    return {
        "rank_by": rank_by,
        "refused": refused,
        "points": [{"params": p.params, **p.summary} for p in ranked],
    }


def check_rank_by(rank_by: str) -> None:
    if rank_by not in RANK_METRICS:
        raise Unprocessable(f"unknown metric {rank_by!r} (choose one of {', '.join(RANK_METRICS)})")


def as_inputs(data: Bars | Sequence[SymbolData], trade_from: int = 0) -> list[SymbolData]:
    """What a sweep runs each point on: one symbol's bars, or several symbols' data."""
    return [SymbolData(data, trade_from)] if isinstance(data, Bars) else list(data)


def run_sweep(
    request: BacktestRequest,
    data: Bars | Sequence[SymbolData],
    grid: Mapping[str, Sequence[Any]],
    *,
    rank_by: str = "sharpe",
    processes: int = 1,
    executor: Executor | None = None,
    max_points: int = 10_000,
    on_point: Callable[[int, int], None] | None = None,
    trade_from: int = 0,
) -> tuple[list[SweepPoint], int]:
    """Every accepted grid point's summary, best first by ``rank_by``; and the refused count.

    ``data``: one symbol's bars (``trade_from``: the bars before it are warm-up, read and
    never traded) or several symbols' (each point then runs them all as one portfolio).
    The points run in this thread (``processes`` 1), in a process pool of ``processes``
    made for the sweep, or on ``executor`` (a pool of ``processes`` shared by many sweeps,
    sent about ``POOL_CHUNKS`` chunks of points per process); ``on_point`` is
    told how many are done and may raise to stop the sweep (points not yet started are
    dropped)."""
    check_rank_by(rank_by)
    points, refused = grid_points(request.strategy, request.params, grid)
    if not points:
        raise Unprocessable("no point of the grid fits the strategy's parameters")
    if len(points) > max_points:
        raise Unprocessable(f"the grid has {len(points)} points; at most {max_points} are allowed")
    inputs = as_inputs(data, trade_from)
    requests = [request.model_copy(update={"params": p}) for p in points]
    if executor is None and processes <= 1:
        results: list[dict[str, Any]] = []
        for n, one in enumerate(requests, start=1):
            results.append(point_summary(one, inputs))
            if on_point is not None:
                on_point(n, len(requests))
    elif executor is not None:
        results = _on_pool(executor, requests, inputs, POOL_CHUNKS * processes, on_point)
    else:
        # Spawned, not forked: a fork of a process whose Polars or BLAS threads hold a lock
        # would wait on it forever.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
            results = _on_pool(pool, requests, inputs, POOL_CHUNKS * processes, on_point)
    return rank(points, results, rank_by), refused


POOL_CHUNKS = 4
"""A pooled sweep sends its points in about this many chunks per worker process: the bars
are copied to a worker once per chunk, not once per point, and progress still moves."""


def _on_pool(
    executor: Executor,
    requests: list[BacktestRequest],
    inputs: list[SymbolData],
    chunks: int,
    on_point: Callable[[int, int], None] | None,
) -> list[dict[str, Any]]:
    size = max(1, math.ceil(len(requests) / chunks))
    parts = [requests[lo : lo + size] for lo in range(0, len(requests), size)]
    futures = [executor.submit(_chunk, (part, inputs)) for part in parts]
    done = 0
    try:
        for future in futures:
            part = future.result()
            done += len(part)
            if on_point is not None:
                on_point(done, len(requests))
    except BaseException:
        for future in futures:
            future.cancel()  # not started yet: never runs (a running chunk ends on its own)
        raise
    return [summary for future in futures for summary in future.result()]
