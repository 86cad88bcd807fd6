"""Walk-forward and out-of-sample runs, stitched into one report.

The bars are cut into an in-sample part and ``folds`` out-of-sample windows that tile the
last ``out_of_sample`` fraction of the data. For each fold the parameters are chosen on
its in-sample window (the best grid point by ``rank_by``, or the request's own parameters
without a grid), then traded on its out-of-sample window only. In-sample windows roll
forward with the folds (same length), or are anchored at the first bar.

An out-of-sample window reads the bars before it for the strategy's warm-up but never
trades them, and a position still open at its end is closed at its last close, so every
fold starts flat with the run's capital. The folds' out-of-sample runs are then stitched
into one run: their bars, orders, fills and round trips in time order, and one equity
curve carrying each fold's P&L into the next. The report of that run is the walk-forward
result; the folds (windows, chosen parameters, in- and out-of-sample figures) go with it.

Several symbols are one portfolio, as a several-symbol backtest: the folds are cut on the
time line of all their bars, a grid point is chosen on all of them together, and each
symbol trades each window on an account of its own; the stitched runs (one per symbol) are
reported together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from shared.errors import Unprocessable
from shared.instruments import Instrument
from strategy_workers.strategies.registry import registry

from .data import Bars, from_ns
from .engine import build_strategy, run_backtest
from .market import market_for
from .portfolio import SymbolData, run_portfolio
from .report import build_report, jsonable, metrics
from .results import BacktestCancelled, BacktestRun, Identity
from .settings import BacktestRequest
from .sweep import as_inputs, headline, run_sweep

MAX_FOLDS = 20


@dataclass(frozen=True, slots=True)
class WalkForwardSpec:
    """How the data is split: ``folds`` out-of-sample windows covering the last
    ``out_of_sample`` fraction of the bars; in-sample windows rolling or ``anchored``."""

    folds: int = 1
    out_of_sample: float = 0.25
    anchored: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.folds <= MAX_FOLDS:
            raise Unprocessable(f"folds must be between 1 and {MAX_FOLDS}")
        if not 0.0 < self.out_of_sample <= 0.9:
            raise Unprocessable("the out-of-sample fraction must be above 0 and at most 0.9")


@dataclass(frozen=True, slots=True)
class Fold:
    """Bar index ranges ``[lo, hi)`` of one fold's in-sample and out-of-sample windows."""

    index: int
    in_sample: tuple[int, int]
    out_of_sample: tuple[int, int]


def split(n: int, spec: WalkForwardSpec, warmup: int) -> list[Fold]:
    """The folds of ``n`` bars; 422 when a window would be too short to trade in."""
    length = int(n * spec.out_of_sample) // spec.folds
    first = n - length * spec.folds
    if length < 2 or first < warmup + 1:
        raise Unprocessable(
            f"{n} bars are too few for {spec.folds} out-of-sample window(s) of "
            f"{spec.out_of_sample:g} of the data after an in-sample window longer than the "
            f"strategy's warm-up of {warmup} bars"
        )
    folds = []
    for j in range(spec.folds):
        lo = first + j * length
        start = 0 if spec.anchored else lo - first
        folds.append(Fold(j, (start, lo), (lo, lo + length)))
    return folds


@dataclass(slots=True)
class FoldResult:
    """One fold: its windows on the run's time line, the parameters chosen in sample and
    their in-sample figures, and each symbol's out-of-sample run (``runs``, in the order of
    the data; ``windows``: that symbol's bar indices of the fold)."""

    fold: Fold
    params: dict[str, Any]
    in_sample: dict[str, Any]
    runs: list[BacktestRun]
    windows: list[Fold]

    @property
    def run(self) -> BacktestRun:
        """The first symbol's out-of-sample run (the only one of a one-symbol run)."""
        return self.runs[0]


def timeline(data: Sequence[SymbolData]) -> np.ndarray:
    """Every bar start of the symbols, in order: the folds are cut on it, so each window
    covers the same time for every symbol (one symbol: its own bars)."""
    if len(data) == 1:
        return data[0].bars.ts
    return np.unique(np.concatenate([d.bars.ts for d in data]))


def _windows(fold: Fold, ts: np.ndarray, bars: Bars) -> Fold:
    """The fold's windows as ``bars``' indices (the bars starting in the same times)."""

    def at(k: int) -> int:
        return len(bars) if k >= len(ts) else int(np.searchsorted(bars.ts, ts[k], "left"))

    return Fold(
        fold.index,
        (at(fold.in_sample[0]), at(fold.in_sample[1])),
        (at(fold.out_of_sample[0]), at(fold.out_of_sample[1])),
    )


def _check_windows(symbol: str, fold: Fold, warmup: int) -> None:
    (in_lo, in_hi), (lo, hi) = fold.in_sample, fold.out_of_sample
    k = fold.index + 1
    if hi - lo < 2:
        raise Unprocessable(
            f"{symbol} has {hi - lo} bars in fold {k}'s out-of-sample window; it needs 2 or more"
        )
    if in_hi - in_lo < warmup + 1:
        raise Unprocessable(
            f"{symbol} has {in_hi - in_lo} bars in fold {k}'s in-sample window, not more than "
            f"the strategy's warm-up of {warmup}"
        )


def run_walk_forward(
    request: BacktestRequest,
    data: Bars | Sequence[SymbolData],
    spec: WalkForwardSpec,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    rank_by: str = "sharpe",
    processes: int = 1,
    executor: Executor | None = None,
    max_points: int = 10_000,
    fine: Bars | None = None,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[FoldResult]:
    """Every fold: parameters chosen in sample, then traded out of sample.

    ``data``: one symbol's bars (``fine``: its finer candles) or several symbols' (each
    with its own), read from their first bar (no warm-up before it). Several symbols are
    one portfolio, as a several-symbol backtest: a grid point is chosen on all of them
    together, each symbol trades the window out of sample on an account of its own."""
    inputs = as_inputs(data) if isinstance(data, Bars) else list(data)
    if fine is not None and isinstance(data, Bars):
        inputs = [SymbolData(data, 0, fine)]
    warmup = build_strategy(request, registry).warmup
    ts = timeline(inputs)
    folds = split(len(ts), spec, warmup)
    out = []
    for fold in folds:
        if cancelled is not None and cancelled():
            raise BacktestCancelled("the walk-forward run was cancelled")
        windows = [_windows(fold, ts, d.bars) for d in inputs]
        for d, w in zip(inputs, windows, strict=True):
            _check_windows(d.bars.symbol, w, warmup)
        in_data = [
            SymbolData(d.bars.slice(*w.in_sample)) for d, w in zip(inputs, windows, strict=True)
        ]

        def point(n: int, total: int) -> None:
            if cancelled is not None and cancelled():
                raise BacktestCancelled("the walk-forward run was cancelled")

        if grid:
            ranked, _ = run_sweep(
                request, in_data, grid, rank_by=rank_by, processes=processes,
                executor=executor, max_points=max_points, on_point=point,
            )  # fmt: skip
            params, in_sample = ranked[0].params, ranked[0].summary
        else:
            params = dict(request.params)
            in_sample = headline(metrics(run_portfolio(request, in_data, cancelled=cancelled)))
        chosen = request.model_copy(update={"params": params})
        runs = [
            _out_of_sample(
                chosen.model_copy(update={"symbol": d.bars.symbol}), d.bars, w, d.fine, cancelled
            )
            for d, w in zip(inputs, windows, strict=True)
        ]
        out.append(FoldResult(fold, params, in_sample, runs, windows))
        if progress is not None:
            progress(len(out) / len(folds))
    return out


def _out_of_sample(
    request: BacktestRequest,
    bars: Bars,
    fold: Fold,
    fine: Bars | None,
    cancelled: Callable[[], bool] | None,
) -> BacktestRun:
    lo, hi = fold.out_of_sample
    lead = min(lo, build_strategy(request, registry).warmup)
    instrument, fees = market_for(request.symbol)
    return run_backtest(
        request, bars.slice(lo - lead, hi), instrument, fees,
        identity=Identity(subscription_id=fold.index + 1), fine=fine, trade_from=lead,
        flatten=True, cancelled=cancelled,
    )  # fmt: skip


def stitch(
    request: BacktestRequest, data: Bars | Sequence[SymbolData], results: Sequence[FoldResult]
) -> list[BacktestRun]:
    """Each symbol's out-of-sample runs as one run over its windows, one equity curve."""
    inputs = as_inputs(data) if isinstance(data, Bars) else list(data)
    return [
        _stitch_one(
            request.model_copy(update={"symbol": d.bars.symbol}),
            d.bars,
            [(r.windows[n], r.runs[n]) for r in results],
        )
        for n, d in enumerate(inputs)
    ]


def _stitch_one(
    request: BacktestRequest, bars: Bars, results: Sequence[tuple[Fold, BacktestRun]]
) -> BacktestRun:
    first, last = results[0][0].out_of_sample[0], results[-1][0].out_of_sample[1]
    lead = results[0][1].lead  # the first window's warm-up; later ones read the windows before
    whole = bars.slice(first, last)
    instrument: Instrument = results[0][1].instrument
    capital = request.settings.capital
    out = BacktestRun(
        request,
        whole,
        instrument,
        fee_model=results[0][1].fee_model,
        fine_timeframe=results[0][1].fine_timeframe,
        history=bars.slice(first - lead, last),
        lead=lead,
    )
    curves = []
    carried = Decimal(0)
    for fold, run in results:
        shift = fold.out_of_sample[0] - first
        out.orders += run.orders
        out.fills += [dataclasses.replace(f, bar=f.bar + shift) for f in run.fills]
        out.trades += [
            dataclasses.replace(
                t,
                entry_bar=t.entry_bar + shift,
                exit_bar=t.exit_bar + shift if t.exit_bar is not None else None,
            )
            for t in run.trades
        ]
        out.skipped += run.skipped
        out.signals += run.signals
        out.signal_log += [(i + shift, s) for i, s in run.signal_log]
        out.evaluated_bars += run.evaluated_bars
        out.intrabar_replayed += run.intrabar_replayed
        out.intrabar_unresolved += run.intrabar_unresolved
        curves.append(run.equity + float(carried))
        carried += run.final_equity - capital
    out.equity = np.concatenate(curves)
    out.final_equity = capital + carried
    return out


def walk_forward_report(
    request: BacktestRequest,
    data: Bars | Sequence[SymbolData],
    spec: WalkForwardSpec,
    results: Sequence[FoldResult],
    *,
    rank_by: str | None = None,
    version: str | None = None,
    stitched: Sequence[BacktestRun] | None = None,
) -> dict[str, Any]:
    """The stitched out-of-sample report (several symbols: one portfolio), with each fold's
    windows on the run's time line, parameters and figures."""
    inputs = as_inputs(data) if isinstance(data, Bars) else list(data)
    if stitched is None:
        stitched = stitch(request, inputs, results)
    ts = timeline(inputs)
    report = build_report(stitched, version=version)
    report["conventions"]["walk_forward"] = (
        f"{spec.folds} out-of-sample window(s) over the last {spec.out_of_sample:g} of the "
        f"bars, in-sample windows {'anchored at the first bar' if spec.anchored else 'rolling'}"
        "; parameters chosen in sample"
        + (f" (best by {rank_by})" if rank_by else " (the request's own)")
        + "; each window trades flat to flat from the capital, the curve carries the P&L"
    )

    def window(lo: int, hi: int) -> dict[str, Any]:
        return {
            "first_bar": from_ns(int(ts[lo])),
            "last_bar": from_ns(int(ts[hi - 1])),
            "bars": hi - lo,
        }

    report["walk_forward"] = jsonable(
        {
            "folds": spec.folds,
            "out_of_sample": spec.out_of_sample,
            "anchored": spec.anchored,
            "rank_by": rank_by,
            "windows": [
                {
                    "fold": r.fold.index + 1,
                    "in_sample": window(*r.fold.in_sample),
                    "out_of_sample": window(*r.fold.out_of_sample),
                    "params": r.params,
                    "in_sample_metrics": r.in_sample,
                    "out_of_sample_metrics": headline(metrics(r.runs)),
                }
                for r in results
            ],
        }
    )
    return report
