"""A backtest's report: its conventions, its run card, trades, orders, equity and the metrics.

The metrics are the analytics service's report (``analytics_service.metrics.performance``)
over the run's fills and the daily closes, with the capital paid in at the first bar:
period statistics from the marked-to-market daily equity, trade statistics from round
trips, the same definitions and flags as the live accounts' reports. Money is an exact
decimal string; returns and ratios are JSON numbers; times are ISO-8601 UTC.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from analytics_service.metrics import types as M
from analytics_service.metrics.report import PerformanceReport, ScopeData, performance
from order_processor.domain.orders import Order
from strategy_workers.strategies.registry import registry

from .data import from_ns
from .engine import BacktestRun, Trade

MAX_EQUITY_POINTS = 10_000
"""The equity in a report is thinned to at most this many points (the last bar of each step
and every bar with a fill kept), so a million-bar run still gives a file a browser opens."""

PER_SYMBOL = ("symbol", "data_hash", "bars", "warmup_bars", "first_bar", "last_bar", "gaps")
"""What a portfolio's run card lists for each of its symbols."""

INTRABAR_RULE = (
    "stop first when a bar touches both stop and target; a gap through the stop fills at the "
    "open; a target fills at its price or a better open"
)


def jsonable(value: Any) -> Any:
    """Plain JSON values: Decimal as a string, times ISO-8601 UTC, NaN as null."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def code_version() -> str:
    """The commit of the running code (``-dirty`` with local changes), or ``unknown``."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],  # noqa: S607
            cwd=root, capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=root, capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def intrabar_rule(run: BacktestRun) -> str:
    """How a bar that reaches a stop or a target was decided, as printed in the report."""
    if not run.request.settings.stops:
        return "stops and targets not simulated"
    if run.fine_timeframe is None:
        return INTRABAR_RULE
    tf = run.fine_timeframe.value
    return (
        f"a bar that reaches the stop or the target is replayed on its {tf} candles, the "
        f"first {tf} candle to reach one decides ({run.intrabar_replayed} exits); within one "
        f"{tf} candle, or where none is stored, {INTRABAR_RULE} "
        f"({run.intrabar_unresolved} bars touched both with no {tf} candle to tell)"
    )


def conventions(run: BacktestRun) -> dict[str, Any]:
    s = run.request.settings
    fill = (
        "market orders fill at the next bar's open"
        if s.fill.value == "next_open"
        else "market orders fill at the signal bar's close"
    )
    return {
        "signal": "on each bar's close (the strategy sees only closed bars)",
        "fill": fill,
        "fill_at": s.fill.value,
        "slippage": f"{s.slippage_bps} bps and {s.slippage_ticks} ticks against the order",
        "charges": (
            f"the live fee schedule of the instrument ({run.fee_model})"
            if s.charges and run.fee_model != "NoCharges"
            else "none"
        ),
        "direction": s.direction.value,
        "sizing": {"method": s.sizing_method, "params": s.sizing_params},
        "risk_chain": "on" if s.risk is not None else "off",
        "stops": s.stops,
        "intrabar_rule": intrabar_rule(run),
        "intrabar_candles": run.fine_timeframe.value if run.fine_timeframe else None,
        "equity": "marked at every bar's close, starting at the initial capital",
    }


def run_card(run: BacktestRun, version: str | None = None) -> dict[str, Any]:
    bars = run.bars
    return {
        "strategy": run.request.strategy,
        "params": registry.validate_params(run.request.strategy, run.request.params).model_dump(
            mode="json"
        ),
        "symbol": bars.symbol,
        "timeframe": run.request.timeframe.value,
        "settings": run.request.settings.model_dump(mode="json"),
        "data_hash": bars.data_hash(),
        "bars": len(bars),
        "first_bar": from_ns(int(bars.ts[0])),
        "last_bar": from_ns(int(bars.ts[-1])),
        "gaps": {"count": bars.gap_count, "listed": bars.gaps},
        "warmup_bars": run.lead,
        "code_version": version if version is not None else code_version(),
        "seed": run.request.settings.seed,
        "instrument": {
            "exchange": run.instrument.exchange,
            "tick_size": run.instrument.tick_size,
            "lot_size": run.instrument.lot_size,
            "currency": run.instrument.currency,
        },
    }


def metrics(run: BacktestRun | Sequence[BacktestRun]) -> PerformanceReport:
    """The analytics report of one run, or of several (one symbol each, each with its own
    capital) as one portfolio: daily marks, the capital paid in at the first bar."""
    runs = [run] if isinstance(run, BacktestRun) else list(run)
    start = min(r.bars.time(0) for r in runs)
    end = max(r.bars.end(len(r.bars) - 1) for r in runs)
    marks: list[M.Mark] = []
    fills: list[M.FillRecord] = []
    for r in runs:
        bars = r.bars
        day = bars.ts // (86_400 * 10**9)
        last_of_day = np.flatnonzero(np.r_[day[1:] != day[:-1], True])
        marks += [
            M.Mark(bars.symbol, bars.end(int(i)), float(bars.close[i]))
            for i in last_of_day.tolist()
        ]
        fills += [
            M.FillRecord(
                id=len(fills) + n,
                ts=f.fill.ts,
                account_id=0,
                symbol=f.fill.symbol,
                product=f.fill.product.value,
                side=f.fill.side,
                quantity=f.fill.quantity,
                price=f.fill.price,
                charges=f.charges.total,
            )
            for n, f in enumerate(r.fills, start=1)
        ]
    capital = sum((r.request.settings.capital for r in runs), Decimal(0))
    flows = [M.CashFlow(start, capital, external=True)]
    data = ScopeData(runs[0].instrument.calendar(), flows, fills, marks)
    return performance(data, start, end)


def trade_json(trade: Trade) -> dict[str, Any]:
    out: dict[str, Any] = jsonable(
        {
            "symbol": trade.symbol,
            "side": trade.side,
            "quantity": trade.quantity,
            "entry_time": trade.entry_time,
            "entry_price": trade.entry_price,
            "exit_time": trade.exit_time,
            "exit_price": trade.exit_price,
            "pnl": trade.pnl,
            "charges": trade.charges,
            "gross_pnl": trade.gross_pnl,
            "mae": round(trade.mae, 8),
            "mfe": round(trade.mfe, 8),
            "exit_reason": trade.exit_reason or ("open" if trade.exit_time is None else ""),
            "holding_seconds": trade.holding_seconds,
            "tag": trade.tag,
        }
    )
    return out


def equity_points(runs: Sequence[BacktestRun]) -> list[dict[str, Any]]:
    """The equity at every bar's close (summed over the runs on the union of their bar
    times, a run counting its capital before its first bar), thinned for the report."""
    ends = [r.bars.ts + r.bars.step_ns for r in runs]
    times = np.unique(np.concatenate(ends))
    total = np.zeros(len(times))
    for r, end_ns in zip(runs, ends, strict=True):
        idx = np.searchsorted(end_ns, times, side="right") - 1
        capital = float(r.request.settings.capital)
        total += np.where(idx >= 0, r.equity[np.maximum(idx, 0)], capital)
    fill_times = {int(f.fill.ts.timestamp() * 1e6) for r in runs for f in r.fills}
    n = len(times)
    step = max(1, math.ceil(n / MAX_EQUITY_POINTS))
    keep = set(range(step - 1, n, step)) | {n - 1}
    keep |= {
        int(i) for i in np.searchsorted(times // 1000, sorted(fill_times), side="left") if i < n
    }
    first = min(r.bars.time(0) for r in runs)
    capital = sum(float(r.request.settings.capital) for r in runs)
    points = [{"time": jsonable(first), "equity": capital}]
    points += [
        {"time": jsonable(from_ns(int(times[i]))), "equity": round(float(total[i]), 8)}
        for i in sorted(keep)
    ]
    return points


def _skipped_summary(run: BacktestRun) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in run.skipped:
        reason = s.reason.split(":")[0] if s.reason.startswith("warming up") else s.reason
        counts[reason] = counts.get(reason, 0) + 1
    return counts


def excursions(trades: Sequence[Trade]) -> dict[str, float | None]:
    """MAE and MFE of closed round trips: their means, the worst MAE and the best MFE (money,
    marked on bar lows and highs while the trip was open)."""
    closed = [t for t in trades if t.exit_time is not None]
    if not closed:
        return {"average_mae": None, "average_mfe": None, "worst_mae": None, "best_mfe": None}
    mae = np.array([t.mae for t in closed])
    mfe = np.array([t.mfe for t in closed])
    return {
        "average_mae": round(float(mae.mean()), 8),
        "average_mfe": round(float(mfe.mean()), 8),
        "worst_mae": round(float(mae.min()), 8),
        "best_mfe": round(float(mfe.max()), 8),
    }


def breakdown(trades: Sequence[Trade], key: str) -> dict[str, dict[str, Any]]:
    """Closed round trips grouped by ``exit_reason`` or ``tag``: count, net P&L, win rate,
    expectancy, profit factor and the excursions."""
    groups: dict[str, list[Trade]] = {}
    for t in trades:
        if t.exit_time is not None:
            groups.setdefault(str(getattr(t, key)) or "-", []).append(t)
    out = {}
    for name, group in sorted(groups.items()):
        net = sum((t.pnl for t in group), Decimal(0))
        loss = -sum((t.pnl for t in group if t.pnl < 0), Decimal(0))
        gain = sum((t.pnl for t in group if t.pnl > 0), Decimal(0))
        out[name] = {
            "count": len(group),
            "net_pnl": jsonable(net),
            "win_rate": sum(1 for t in group if t.pnl > 0) / len(group),
            "expectancy": jsonable(net / len(group)),
            "profit_factor": float(gain / loss) if loss else None,
            **excursions(group),
        }
    return out


def _order_json(o: Order) -> dict[str, Any]:
    out: dict[str, Any] = jsonable(
        {
            "client_order_id": o.client_order_id,
            "symbol": o.symbol,
            "time": o.created_at,
            "side": o.side,
            "quantity": o.quantity,
            "status": o.status,
            "price": o.average_price,
            "filled_at": o.updated_at if o.filled_quantity else None,
            "tag": o.algo_tag,
            "reason_code": o.reason_code,
            "reason": o.reason,
        }
    )
    return out


def build_report(
    run: BacktestRun | Sequence[BacktestRun], *, version: str | None = None
) -> dict[str, Any]:
    """The whole report as plain JSON values (the ``--json`` file and the stored result).

    Several runs (one per symbol, each with the request's capital) are reported as one
    portfolio: their trades and orders together, equity and metrics of the sum."""
    runs = [run] if isinstance(run, BacktestRun) else list(run)
    report = metrics(runs)
    metric_values = jsonable(dataclasses.replace(report, closed_trades=[], daily=[]))
    metric_values["final_equity_marked"] = jsonable(sum(r.final_equity for r in runs))
    all_trades = [t for r in runs for t in r.trades]
    metric_values["trades"].update(excursions(all_trades))
    version = version if version is not None else code_version()
    cards = [run_card(r, version) for r in runs]
    card = cards[0]
    if len(runs) > 1:
        card = {
            **card,
            "symbol": [c["symbol"] for c in cards],
            "data_hash": hashlib.sha256(
                "".join(c["data_hash"] for c in cards).encode()
            ).hexdigest(),
            "bars": sum(c["bars"] for c in cards),
            "warmup_bars": sum(c["warmup_bars"] for c in cards),
            "per_symbol": [{k: c[k] for k in PER_SYMBOL} for c in cards],
        }
    trades = sorted((t for r in runs for t in r.trades), key=lambda t: (t.entry_time, t.symbol))
    orders = sorted((o for r in runs for o in r.orders), key=lambda o: (o.created_at, o.symbol))
    skipped: dict[str, int] = {}
    for r in runs:
        for reason, count in _skipped_summary(r).items():
            skipped[reason] = skipped.get(reason, 0) + count
    return {
        "conventions": conventions(runs[0]),
        "run_card": jsonable(card),
        "trades": [trade_json(t) for t in trades],
        "orders": [_order_json(o) for o in orders],
        "equity": equity_points(runs),
        "metrics": metric_values,
        "by_exit_reason": breakdown(trades, "exit_reason"),
        "by_tag": breakdown(trades, "tag"),
        "daily": jsonable(report.daily),
        "signals": sum(r.signals for r in runs),
        "evaluated_bars": sum(r.evaluated_bars for r in runs),
        "skipped": skipped,
    }
