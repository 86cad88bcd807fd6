"""A backtest report as one self-contained HTML page: inline SVG charts, no scripts, no fetches.

Conventions and the run card first, then the headline metrics, the equity curve, the
drawdown, monthly returns and the trades marked on the price chart. A sweep's page ranks
its grid points, then shows the best point's report.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .engine import BacktestRun
from .sweep import SweepPoint

W, H, PAD = 960, 240, 40
MAX_POINTS = 1_500
MAX_MARKERS = 400
MAX_PRICE_CHARTS = 8


def _thin(n: int) -> np.ndarray:
    step = max(1, math.ceil(n / MAX_POINTS))
    idx = np.arange(0, n, step)
    return idx if idx[-1] == n - 1 else np.r_[idx, n - 1]


def _path(y: np.ndarray, lo: float, hi: float) -> str:
    n = len(y)
    span = (hi - lo) or 1.0
    xs = PAD + (W - 2 * PAD) * np.arange(n) / max(n - 1, 1)
    ys = H - PAD - (H - 2 * PAD) * (y - lo) / span
    return "M" + " L".join(f"{x:.1f},{v:.1f}" for x, v in zip(xs, ys, strict=True))


def _chart(title: str, y: np.ndarray, color: str, extra: str = "", fill: bool = False) -> str:
    lo, hi = float(np.min(y)), float(np.max(y))
    d = _path(y, lo, hi)
    area = ""
    if fill:
        area = f'<path d="{d} L{W - PAD},{PAD} L{PAD},{PAD} Z" fill="{color}" opacity="0.15"/>'
    return (
        f'<h2>{html.escape(title)}</h2><svg viewBox="0 0 {W} {H}" width="100%" role="img" '
        f'aria-label="{html.escape(title)}"><rect width="{W}" height="{H}" fill="#fff"/>'
        f'<text x="4" y="{PAD}" font-size="11">{hi:,.4g}</text>'
        f'<text x="4" y="{H - PAD}" font-size="11">{lo:,.4g}</text>{area}'
        f'<path d="{d}" fill="none" stroke="{color}" stroke-width="1.2"/>{extra}</svg>'
    )


def _markers(run: BacktestRun, idx: np.ndarray, price: np.ndarray) -> str:
    lo, hi = float(price.min()), float(price.max())
    span = (hi - lo) or 1.0
    n = len(run.bars)
    out = []
    for trade in run.trades[:MAX_MARKERS]:
        for bar, value, color in (
            (trade.entry_bar, float(trade.entry_price), "#0a7"),
            (trade.exit_bar, float(trade.exit_price or 0), "#c22"),
        ):
            if bar is None:
                continue
            x = PAD + (W - 2 * PAD) * bar / max(n - 1, 1)
            y = H - PAD - (H - 2 * PAD) * (value - lo) / span
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>')
    return "".join(out)


def _table(rows: Sequence[tuple[str, Any]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{cells}</table>"


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, dict | list):
        return json.dumps(v)
    return str(v)


def _months(monthly: list[dict[str, Any]]) -> str:
    if not monthly:
        return "<p>no monthly returns</p>"
    years = sorted({m["year"] for m in monthly})
    by = {(m["year"], m["month"]): m["month_return"] for m in monthly}
    head = "".join(f"<th>{m}</th>" for m in range(1, 13))
    body = []
    for year in years:
        cells = []
        for month in range(1, 13):
            r = by.get((year, month))
            if r is None:
                cells.append("<td></td>")
                continue
            alpha = min(1.0, abs(r) * 20)
            color = f"rgba(0,160,90,{alpha:.2f})" if r >= 0 else f"rgba(200,40,40,{alpha:.2f})"
            cells.append(f'<td style="background:{color}">{r * 100:.2f}%</td>')
        body.append(f"<tr><th>{year}</th>{''.join(cells)}</tr>")
    return f"<table class=months><tr><th></th>{head}</tr>{''.join(body)}</table>"


def render_html(run: BacktestRun | Sequence[BacktestRun], report: dict[str, Any]) -> str:
    """The report page (``report`` is :func:`build_report`'s output for the run or runs)."""
    card = report["run_card"]
    symbols = card["symbol"] if isinstance(card["symbol"], str) else ", ".join(card["symbol"])
    title = f"Backtest {card['strategy']} {symbols} {card['timeframe']}"
    return _page(title, _report_body(run, report))


SWEEP_COLUMNS = (
    "sharpe", "sortino", "calmar", "total_return", "max_drawdown", "trades", "win_rate",
    "profit_factor", "expectancy", "net_pnl",
)  # fmt: skip


def render_sweep_html(
    ranked: Sequence[SweepPoint],
    run: BacktestRun | Sequence[BacktestRun],
    report: dict[str, Any],
    *,
    rank_by: str,
    refused: int = 0,
) -> str:
    """A sweep's page: its grid points ranked by ``rank_by``, then the best point's whole
    report (``run`` and ``report``, as :func:`render_html` shows a backtest)."""
    card = report["run_card"]
    symbols = card["symbol"] if isinstance(card["symbol"], list) else [card["symbol"]]
    title = f"Sweep {card['strategy']} {', '.join(symbols)} {card['timeframe']}"
    names = list(dict.fromkeys(k for p in ranked for k in p.params))
    columns = [rank_by, *(c for c in SWEEP_COLUMNS if c != rank_by)]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["rank", *names, *columns])
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(_fmt(v))}</td>"
            for v in [n, *(p.params.get(k) for k in names), *(p.summary.get(c) for c in columns)]
        )
        + "</tr>"
        for n, p in enumerate(ranked, start=1)
    )
    best = ", ".join(f"{k}={v}" for k, v in ranked[0].params.items()) if ranked else "-"
    note = f"; {refused} grid points refused by the parameter model" if refused else ""
    body = (
        f"<h2>Grid points by {html.escape(rank_by)}</h2>"
        f"<p>{len(ranked)} runs{html.escape(note)}</p>"
        f"<table class=ranking><tr>{head}</tr>{rows}</table>"
        f"<h2>Best point: {html.escape(best)}</h2>{_report_body(run, report)}"
    )
    return _page(title, body)


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}}
table{{border-collapse:collapse;margin:8px 0}}th,td{{border:1px solid #ddd;padding:3px 8px;
text-align:right}}th{{text-align:left;background:#f6f6f6}}h2{{margin-top:28px}}</style>
</head><body><h1>{html.escape(title)}</h1>
{body}
</body></html>
"""


def _report_body(run: BacktestRun | Sequence[BacktestRun], report: dict[str, Any]) -> str:
    runs = [run] if isinstance(run, BacktestRun) else list(run)
    points = report["equity"]
    keep = _thin(len(points))
    equity = np.array([float(points[i]["equity"]) for i in keep])
    peak = np.maximum.accumulate(equity)
    drawdown = np.where(peak > 0, equity / peak - 1.0, 0.0) * 100
    prices = []
    for r in runs[:MAX_PRICE_CHARTS]:
        idx = _thin(len(r.bars))
        price = r.bars.close[idx]
        title = f"{r.bars.symbol}: trades on the price (entries green, exits red)"
        prices.append(_chart(title, price, "#555", _markers(r, idx, price)))
    m = report["metrics"]
    period, trades = m["period"], m["trades"]
    headline = [
        ("initial equity", m["initial_equity"]),
        ("final equity", m["final_equity"]),
        ("P&L", m["pnl"]),
        ("charges", m["charges"]),
        ("total return", period["total_return"]),
        ("annual return", period["annual_return"]),
        ("Sharpe", period["sharpe"]),
        ("Sortino", period["sortino"]),
        ("Calmar", period["calmar"]),
        ("max drawdown", (period["max_drawdown"] or {}).get("depth")),
        ("round trips", trades["count"]),
        ("win rate", trades["win_rate"]),
        ("profit factor", trades["profit_factor"]),
        ("expectancy", trades["expectancy"]),
        ("SQN", trades["sqn"]),
        ("flags", ", ".join(m["flags"]) or "none"),
    ]
    return f"""<h2>Conventions</h2>{_table(list(report["conventions"].items()))}
<h2>Run card</h2>{_table(list(report["run_card"].items()))}
<h2>Metrics</h2>{_table(headline)}
{_chart("Equity (marked at each bar's close)", equity, "#1565c0", fill=False)}
{_chart("Drawdown (% below the running peak)", drawdown, "#c62828", fill=True)}
<h2>Monthly returns</h2>{_months(m["monthly"])}
{"".join(prices)}"""
