"""``algotrade backtest`` and ``algotrade sweep``: a strategy over history, from a terminal.

Candles come from a CSV or Parquet file (``--data``) or from the platform's store
(``--from``/``--to``); a run starting at ``--from`` reads the bars before it as the
strategy's warm-up. The run uses the live strategy, sizing, exit rule, risk chain (with
``--risk default``) and paper fill model; see docs/backtesting.md for the conventions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from algotrade._backtest_inputs import (
    FillOption,
    RiskOption,
    build_request,
    fine_bars,
    pairs,
    symbol_data,
    walk_spec,
)
from algotrade._typer import Command, typer_app
from algotrade.console import EXIT_BAD_INPUT, console, fail, print_table
from shared.contracts import Product, Timeframe
from shared.errors import DomainError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from analytics_service.backtest import BacktestRequest
    from analytics_service.backtest.engine import BacktestRun
    from analytics_service.backtest.portfolio import SymbolData
    from analytics_service.backtest.sweep import SweepPoint
    from analytics_service.backtest.walkforward import FoldResult, WalkForwardSpec

app = typer_app()

Strategy = Annotated[str, typer.Argument(metavar="STRATEGY", help="A catalog strategy name.")]
Symbols = Annotated[
    list[str],
    typer.Option(
        "--symbol", metavar="SYMBOL", help="An instrument (repeatable: a portfolio of runs)."
    ),
]
TF = Annotated[Timeframe, typer.Option("--timeframe", metavar="TF", help="1m, 5m, 15m, 1h or 1d.")]
DataFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--data",
        metavar="FILE",
        help="CSV (header timestamp,open,high,low,close,volume; ISO-8601 times) or Parquet; "
        "one per --symbol, in the same order.",
    ),
]
From = Annotated[
    str | None,
    typer.Option(
        "--from", metavar="DATE", help="Start (store; with --data, earlier bars are warm-up)."
    ),
]
To = Annotated[str | None, typer.Option("--to", metavar="DATE", help="End, exclusive.")]
Params = Annotated[
    list[str] | None,
    typer.Option("--param", metavar="NAME=VALUE", help="A strategy parameter (repeatable)."),
]
Capital = Annotated[str, typer.Option("--capital", metavar="N", help="Initial capital.")]
Quantity = Annotated[
    str | None, typer.Option("--quantity", metavar="Q", help="A fixed quantity per entry.")
]
Sizing = Annotated[
    str,
    typer.Option(
        "--sizing", metavar="METHOD", help="fixed_fractional, fixed_quantity, kelly or volatility."
    ),
]
SizingParams = Annotated[
    list[str] | None,
    typer.Option("--sizing-param", metavar="NAME=VALUE", help="A sizing parameter (repeatable)."),
]
LongOnly = Annotated[bool, typer.Option("--long-only", help="A SELL only closes a long.")]
NoCosts = Annotated[bool, typer.Option("--no-costs", help="No charges.")]
Fill = Annotated[
    FillOption, typer.Option("--fill", metavar="FILL", help="next-open (default) or close.")
]
SlipBps = Annotated[str, typer.Option("--slippage-bps", metavar="BPS", help="Adverse slippage.")]
SlipTicks = Annotated[int, typer.Option("--slippage-ticks", metavar="N", help="In ticks.")]
Stops = Annotated[bool, typer.Option("--stops", help="Exit at the signals' stops and targets.")]
Risk = Annotated[RiskOption, typer.Option("--risk", help="default: the default risk limits.")]
IntrabarData = Annotated[
    list[Path] | None,
    typer.Option(
        "--intrabar-data",
        metavar="FILE",
        help="Finer candles (CSV or Parquet) replayed inside a bar that reaches a stop or a "
        "target; one per --symbol. From the store, 1m candles are used when present.",
    ),
]
IntrabarTF = Annotated[
    Timeframe,
    typer.Option("--intrabar-timeframe", metavar="TF", help="Timeframe of --intrabar-data."),
]
WalkForward = Annotated[
    int | None,
    typer.Option(
        "--walk-forward",
        metavar="FOLDS",
        min=1,
        max=20,
        help="Out-of-sample windows tiling the last --out-of-sample of the data, stitched.",
    ),
]
OutOfSample = Annotated[
    float | None,
    typer.Option(
        "--out-of-sample",
        metavar="FRACTION",
        help="Share of the data traded out of sample (default 0.25 with --walk-forward).",
    ),
]
Anchored = Annotated[
    bool, typer.Option("--anchored", help="In-sample windows start at the first bar.")
]
ProductOpt = Annotated[Product, typer.Option("--product", help="MIS (intraday) or CNC.")]


HtmlOut = Annotated[
    Path | None, typer.Option("--html", metavar="OUT", help="Write an offline HTML report.")
]


def _print_folds(report: dict[str, Any], rank_by: str | None) -> None:
    wf = report["walk_forward"]
    names = sorted({k for w in wf["windows"] for k in w["params"]})
    key = rank_by or "sharpe"
    print_table(
        f"walk-forward: {wf['folds']} fold(s), {wf['out_of_sample']:g} out of sample"
        + (" (anchored)" if wf["anchored"] else ""),
        ["fold", "in sample", "out of sample", *names, f"IS {key}", f"OOS {key}", "OOS P&L"],
        [
            [
                w["fold"],
                f"{w['in_sample']['first_bar'][:16]} +{w['in_sample']['bars']:,}",
                f"{w['out_of_sample']['first_bar'][:16]} +{w['out_of_sample']['bars']:,}",
                *(w["params"].get(n) for n in names),
                _f(w["in_sample_metrics"].get(key)),
                _f(w["out_of_sample_metrics"].get(key)),
                f"{w['out_of_sample_metrics']['net_pnl']:.2f}",
            ]
            for w in wf["windows"]
        ],
    )


def _metrics_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    m = report["metrics"]
    p, t = m["period"], m["trades"]

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v * 100:.2f}%"

    def num(v: float | str | None) -> str:
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    dd = p["max_drawdown"] or {}
    return [
        ("initial equity", m["initial_equity"]),
        ("final equity", m["final_equity"]),
        ("P&L", m["pnl"]),
        ("charges", m["charges"]),
        ("total return", pct(p["total_return"])),
        ("annual return", pct(p["annual_return"])),
        ("annual volatility", pct(p["annual_volatility"])),
        ("Sharpe", num(p["sharpe"])),
        ("Sortino", num(p["sortino"])),
        ("Calmar", num(p["calmar"])),
        ("max drawdown", pct(dd.get("depth"))),
        ("exposure", pct(p["exposure"])),
        ("round trips", str(t["count"])),
        ("win rate", pct(t["win_rate"])),
        ("profit factor", num(t["profit_factor"])),
        ("expectancy", num(t["expectancy"])),
        ("SQN", num(t["sqn"])),
        ("average MAE / MFE", f"{num(t.get('average_mae'))} / {num(t.get('average_mfe'))}"),
        ("flags", ", ".join(m["flags"]) or "none"),
    ]


@app.command("backtest", cls=Command, rich_help_panel="Backtests")
def backtest(
    ctx: typer.Context,
    strategy: Strategy,
    symbols: Symbols,
    timeframe: TF,
    data: DataFiles = None,
    start: From = None,
    end: To = None,
    params: Params = None,
    capital: Capital = "100000",
    quantity: Quantity = None,
    sizing: Sizing = "fixed_fractional",
    sizing_params: SizingParams = None,
    long_only: LongOnly = False,
    no_costs: NoCosts = False,
    fill: Fill = FillOption.NEXT_OPEN,
    slippage_bps: SlipBps = "0",
    slippage_ticks: SlipTicks = 0,
    stops: Stops = False,
    risk: Risk = RiskOption.OFF,
    product: ProductOpt = Product.MIS,
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="OUT", help="Write the report as JSON.")
    ] = None,
    html_out: HtmlOut = None,
    check_lookahead: Annotated[
        bool,
        typer.Option("--check-lookahead", help="Evaluate every signal again on data cut there."),
    ] = False,
    intrabar_data: IntrabarData = None,
    intrabar_timeframe: IntrabarTF = Timeframe.M1,
    walk_forward: WalkForward = None,
    out_of_sample: OutOfSample = None,
    anchored: Anchored = False,
) -> None:
    """Run a strategy over history with the live code path and print its metrics.

    Every report starts with its conventions (signal on the close, fill price, slippage,
    charges, intrabar rule) and a run card (data hash, code version, settings). Several
    --symbol run one account each with the capital given, reported as one portfolio.
    """
    from rich.progress import Progress

    from analytics_service.backtest import build_report
    from analytics_service.backtest.engine import warmup_bars
    from analytics_service.backtest.html import render_html
    from analytics_service.backtest.lookahead import lookahead_section
    from analytics_service.backtest.portfolio import SymbolData, run_portfolio

    if data is not None and len(data) != len(symbols):
        fail("give one --data FILE per --symbol, in the same order", code="bad_option")
    if intrabar_data is not None and len(intrabar_data) != len(symbols):
        fail("give one --intrabar-data FILE per --symbol, in the same order", code="bad_option")
    spec = walk_spec(walk_forward, out_of_sample, anchored)
    base = build_request(
        strategy, symbols[0], timeframe, params, capital, quantity, sizing, sizing_params,
        long_only, no_costs, fill, slippage_bps, slippage_ticks, stops, risk, product,
    )  # fmt: skip
    try:
        # A walk-forward run's windows are cut from the range; each reads the bars before it.
        warmup = 0 if spec is not None else warmup_bars(base)
    except DomainError as exc:
        fail(exc.message, code=exc.code)
    inputs = []
    for n, symbol in enumerate(symbols):
        request = base.model_copy(update={"symbol": symbol})
        file = data[n] if data else None
        item = symbol_data(ctx, request, file, start, end, warmup=warmup)
        fine_file = intrabar_data[n] if intrabar_data else None
        fine = fine_bars(ctx, request, fine_file, intrabar_timeframe, file, start, end)
        inputs.append(SymbolData(item.bars, item.trade_from, fine))
    checked: list[tuple[int | None, BacktestRun]] = []
    try:
        with Progress(console=console(), transient=True) as progress:
            tasks = [
                progress.add_task(f"{d.bars.symbol}: {d.traded_bars:,} bars", total=1.0)
                for d in inputs
            ]
            if spec is not None:
                report, results, folds = _walk_forward(
                    base, inputs, spec, _advance(progress, tasks[0])
                )
                checked = [(f.fold.index + 1, run) for f in folds for run in f.runs]
            else:
                results = run_portfolio(
                    base, inputs, progress=lambda n, done: progress.update(tasks[n], completed=done)
                )
                report = build_report(results)
                checked = [(None, r) for r in results]
        findings = lookahead_section(checked) if check_lookahead else []
    except DomainError as exc:
        fail(exc.message, code=exc.code)
    if check_lookahead:
        report["lookahead"] = findings
    if json_out is not None:
        _write(json_out, json.dumps(report, indent=1, ensure_ascii=False))
    if html_out is not None:
        _write(html_out, render_html(results, report))
    conv = report["conventions"]
    bars_total = sum(d.traded_bars for d in inputs)
    card = report["run_card"]
    print_table(
        f"{strategy} {', '.join(symbols)} {timeframe} - {bars_total:,} bars, "
        f"data {card['data_hash'][:12]}",
        ["metric", "value"],
        _metrics_rows(report),
    )
    console().print(
        f"conventions: signal on close; {conv['fill']}; slippage {conv['slippage']}; "
        f"charges {conv['charges']}; {conv['direction']}; risk chain {conv['risk_chain']}; "
        f"intrabar: {conv['intrabar_rule']}"
    )
    if spec is not None:
        _print_folds(report, None)
    for d in inputs:
        if d.bars.gap_count:
            console().print(
                f"{d.bars.symbol}: {d.bars.gap_count} gaps "
                f"(first after {d.bars.gaps[0].after.isoformat()})"
            )
    if check_lookahead:
        console().print(
            f"look-ahead check: {len(findings)} signal(s) changed on cut data"
            + "".join(
                f"\n  {f['symbol']} {f['time']}"
                + (f" (fold {f['fold']})" if "fold" in f else "")
                + f": {f['problem']}"
                for f in findings
            )
        )
        if findings:
            raise typer.Exit(1)


def _walk_forward(
    request: BacktestRequest,
    data: Sequence[SymbolData],
    spec: WalkForwardSpec,
    progress: Callable[[float], None] | None = None,
    grid: dict[str, list[Any]] | None = None,
    rank_by: str | None = None,
    processes: int = 1,
) -> tuple[dict[str, Any], list[BacktestRun], list[FoldResult]]:
    """The stitched walk-forward report, its runs (one per symbol, for the HTML page) and
    the folds, over the range of each symbol's ``data`` (the bars before it are not read)."""
    from analytics_service.backtest.portfolio import SymbolData
    from analytics_service.backtest.walkforward import (
        run_walk_forward,
        stitch,
        walk_forward_report,
    )

    inputs = [
        SymbolData(d.bars.slice(d.trade_from, len(d.bars)), 0, d.fine) if d.trade_from else d
        for d in data
    ]
    folds = run_walk_forward(
        request, inputs, spec, grid=grid, rank_by=rank_by or "sharpe", processes=processes,
        progress=progress,
    )  # fmt: skip
    stitched = stitch(request, inputs, folds)
    report = walk_forward_report(
        request, inputs, spec, folds, rank_by=rank_by if grid else None, stitched=stitched
    )
    return report, stitched, folds


def _advance(progress: Progress, task: TaskID) -> Callable[[float], None]:
    return lambda done: progress.update(task, completed=done)


def _write(path: Path, text: str) -> None:
    # Written beside and moved into place: never a half-written report.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@app.command("sweep", cls=Command, rich_help_panel="Backtests")
def sweep(
    ctx: typer.Context,
    strategy: Strategy,
    symbols: Symbols,
    timeframe: TF,
    grid: Annotated[
        list[str],
        typer.Option(
            "--grid", metavar="NAME=VALUES", help="5,10,20 or start:stop:step (repeatable)."
        ),
    ],
    data: DataFiles = None,
    start: From = None,
    end: To = None,
    params: Params = None,
    capital: Capital = "100000",
    quantity: Quantity = None,
    sizing: Sizing = "fixed_fractional",
    sizing_params: SizingParams = None,
    long_only: LongOnly = False,
    no_costs: NoCosts = False,
    fill: Fill = FillOption.NEXT_OPEN,
    slippage_bps: SlipBps = "0",
    slippage_ticks: SlipTicks = 0,
    risk: Risk = RiskOption.OFF,
    product: ProductOpt = Product.MIS,
    rank_by: Annotated[str, typer.Option("--rank-by", help="sharpe, total_return, ...")] = (
        "sharpe"
    ),
    top: Annotated[int, typer.Option("--top", min=1, help="Rows to print.")] = 10,
    processes: Annotated[int, typer.Option("--processes", min=1, help="Worker processes.")] = max(
        1, (os.cpu_count() or 1)
    ),
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="OUT", help="Write every point as JSON.")
    ] = None,
    html_out: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="OUT",
            help="Write an offline HTML page: the ranked points and the best one's report.",
        ),
    ] = None,
    walk_forward: WalkForward = None,
    out_of_sample: OutOfSample = None,
    anchored: Anchored = False,
) -> None:
    """Run a strategy over a grid of parameters in a process pool, ranked by a metric.

    Several --symbol make each grid point a portfolio run over all of them (one account
    each, as a several-symbol backtest), ranked on the portfolio's figures. With
    --walk-forward or --out-of-sample the grid is searched on each fold's in-sample window
    and the best point traded on its out-of-sample window; the windows are stitched into
    one report (--json and --html write it)."""
    from rich.progress import Progress

    from analytics_service.backtest.sweep import parse_values, run_sweep, sweep_warmup

    if data is not None and len(data) != len(symbols):
        fail("give one --data FILE per --symbol, in the same order", code="bad_option")
    request = build_request(
        strategy, symbols[0], timeframe, params, capital, quantity, sizing, sizing_params,
        long_only, no_costs, fill, slippage_bps, slippage_ticks, False, risk, product,
    )  # fmt: skip
    try:
        values = {name: parse_values(text) for name, text in pairs(grid, "--grid").items()}
    except DomainError as exc:
        fail(exc.message, code=exc.code)
    spec = walk_spec(walk_forward, out_of_sample, anchored)
    try:
        warmup = 0 if spec is not None else sweep_warmup(request, values)
    except DomainError as exc:
        fail(exc.message, code=exc.code)
    inputs = [
        symbol_data(
            ctx, request.model_copy(update={"symbol": symbol}), data[n] if data else None,
            start, end, warmup=warmup,
        )
        for n, symbol in enumerate(symbols)
    ]  # fmt: skip
    if spec is not None:
        _walk_forward_sweep(request, inputs, spec, values, rank_by, processes, json_out, html_out)
        return
    try:
        with Progress(console=console(), transient=True) as progress:
            task = progress.add_task("sweep", total=None)
            ranked, refused = run_sweep(
                request, inputs, values, rank_by=rank_by, processes=processes,
                on_point=lambda n, total: progress.update(task, completed=n, total=total),
            )  # fmt: skip
        page = _sweep_page(request, inputs, ranked, rank_by, refused) if html_out else None
    except DomainError as exc:
        fail(exc.message, code=exc.code, exit_code=EXIT_BAD_INPUT)
    if json_out is not None:
        _write(
            json_out,
            json.dumps(
                {"rank_by": rank_by, "refused": refused,
                 "points": [{"params": p.params, **p.summary} for p in ranked]},
                indent=1,
            ),
        )  # fmt: skip
    if html_out is not None and page is not None:
        _write(html_out, page)
    names = list(values)
    print_table(
        f"{strategy} {', '.join(symbols)} {timeframe}: {len(ranked)} runs by {rank_by}"
        + (f" ({refused} grid points refused by the parameter model)" if refused else ""),
        [*names, "sharpe", "total return", "max dd", "trades", "win rate", "P&L"],
        [
            [
                *(p.params.get(n) for n in names),
                _f(p.summary["sharpe"]),
                _f(p.summary["total_return"]),
                _f(p.summary["max_drawdown"]),
                p.summary["trades"],
                _f(p.summary["win_rate"]),
                f"{p.summary['net_pnl']:.2f}",
            ]
            for p in ranked[:top]
        ],
    )


def _sweep_page(
    request: BacktestRequest,
    data: Sequence[SymbolData],
    ranked: Sequence[SweepPoint],
    rank_by: str,
    refused: int,
) -> str:
    """The sweep's HTML page: the points ranked, then the best point run again in full."""
    from analytics_service.backtest import build_report
    from analytics_service.backtest.html import render_sweep_html
    from analytics_service.backtest.portfolio import run_portfolio

    best = request.model_copy(update={"params": ranked[0].params})
    runs = run_portfolio(best, data)
    return render_sweep_html(ranked, runs, build_report(runs), rank_by=rank_by, refused=refused)


def _walk_forward_sweep(
    request: BacktestRequest,
    data: Sequence[SymbolData],
    spec: WalkForwardSpec,
    grid: dict[str, list[Any]],
    rank_by: str,
    processes: int,
    json_out: Path | None,
    html_out: Path | None,
) -> None:
    from rich.progress import Progress

    from analytics_service.backtest.html import render_html

    try:
        with Progress(console=console(), transient=True) as progress:
            task = progress.add_task("walk-forward", total=1.0)
            report, stitched, _ = _walk_forward(
                request, data, spec, _advance(progress, task), grid, rank_by, processes
            )
    except DomainError as exc:
        fail(exc.message, code=exc.code, exit_code=EXIT_BAD_INPUT)
    if json_out is not None:
        _write(json_out, json.dumps(report, indent=1, ensure_ascii=False))
    if html_out is not None:
        _write(html_out, render_html(stitched, report))
    _print_folds(report, rank_by)
    print_table("stitched out of sample", ["metric", "value"], _metrics_rows(report))


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
