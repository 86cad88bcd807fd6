"""The look-ahead check: every signal again, with the data cut at the bar it was decided on.

A run evaluates each bar on a window that ends at that bar, so only the strategy's
vectorised ``scan`` (which sees the whole history) could use the future: by dropping a bar
that signals on the cut data, or by a signal that differs. Each signal bar is scanned and
evaluated again on history that ends there; any difference is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from strategy_workers.strategies.base import CandleWindow, Strategy
from strategy_workers.strategies.registry import registry

from .engine import BacktestRun, build_strategy


@dataclass(frozen=True, slots=True)
class LookaheadFinding:
    bar_time: datetime
    problem: str


def _cut(window: CandleWindow, start: int, stop: int) -> CandleWindow:
    return CandleWindow(
        window.symbol, window.timeframe, window.ts[start:stop], window.open[start:stop],
        window.high[start:stop], window.low[start:stop], window.close[start:stop],
        window.volume[start:stop],
    )  # fmt: skip


def check_lookahead(run: BacktestRun, strategy: Strategy[Any]) -> list[LookaheadFinding]:
    """Findings for the signals of ``run`` that change when the data ends at their bar (the
    data the run read, its warm-up before the first traded bar included)."""
    data = run.history if run.history is not None else run.bars
    window = data.window()
    warmup = strategy.warmup
    findings: list[LookaheadFinding] = []
    for i in sorted({i + run.lead for i, _ in run.signal_log}):
        cut = _cut(window, 0, i + 1)
        lo = max(0, i + 1 - 2 * warmup)
        scanned = strategy.scan(_cut(cut, lo, i + 1))
        if scanned is not None and (i - lo) not in set(scanned.tolist()):
            findings.append(LookaheadFinding(data.end(i), "the scan skips this bar on cut data"))
            continue
        again = strategy.evaluate(cut.tail(warmup))
        before = [(m.action, m.stop, m.target) for j, m in run.signal_log if j + run.lead == i]
        after = [(s.action, s.stop, s.target) for s in again]
        if [a for a, _, _ in before] != [a for a, _, _ in after]:
            findings.append(
                LookaheadFinding(data.end(i), f"signals {before} became {after} on cut data")
            )
    return findings


def lookahead_section(runs: Sequence[tuple[int | None, BacktestRun]]) -> list[dict[str, Any]]:
    """The report's ``lookahead``: each run's findings with its symbol, and the walk-forward
    fold whose out-of-sample run it was (``(fold, run)``; fold None outside walk-forward)."""
    out: list[dict[str, Any]] = []
    for fold, run in runs:
        for finding in check_lookahead(run, build_strategy(run.request, registry)):
            found: dict[str, Any] = {
                "symbol": run.bars.symbol,
                "time": finding.bar_time.isoformat(),
                "problem": finding.problem,
            }
            if fold is not None:
                found["fold"] = fold
            out.append(found)
    return out
