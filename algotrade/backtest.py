"""``algotrade backtest`` and ``algotrade sweep``: a strategy over history, from a terminal.

Candles come from a CSV or Parquet file (``--data``) or from the platform's store
(``--from``/``--to``). The run uses the live strategy, sizing, exit rule, risk chain (with
``--risk default``) and paper fill model; see docs/backtesting.md for the conventions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from algotrade._typer import Command, typer_app
from algotrade.console import EXIT_BAD_INPUT, console, fail, print_table, run
from shared.contracts import Product, Timeframe
from shared.errors import DomainError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from algotrade.context import CliContext
    from analytics_service.backtest import BacktestRequest, Bars
    from analytics_service.backtest.walkforward import WalkForwardSpec

app = typer_app()

STORE_LIMIT = 5_000_000


class FillOption(StrEnum):
    NEXT_OPEN = "next-open"
    CLOSE = "close"


class RiskOption(StrEnum):
    DEFAULT = "default"
    OFF = "off"


Strategy = Annotated[str, typer.Argument(metavar="STRATEGY", help="A catalog strategy name.")]
Symbol = Annotated[str, typer.Option("--symbol", metavar="SYMBOL", help="The instrument.")]
Symbols = Annotated[
    list[str],
    typer.Option(
        "--symbol", metavar="SYMBOL", help="An instrument (repeatable: a portfolio of runs)."
    ),
]
TF = Annotated[Timeframe, typer.Option("--timeframe", metavar="TF", help="1m, 5m, 15m, 1h or 1d.")]
Data = Annotated[
    Path | None,
    typer.Option(
        "--data",
        metavar="FILE",
        help="CSV (header timestamp,open,high,low,close,volume; ISO-8601 times) or Parquet.",
    ),
]
DataFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--data",
        metavar="FILE",
        help="CSV (header timestamp,open,high,low,close,volume; ISO-8601 times) or Parquet; "
        "one per --symbol, in the same order.",
    ),
]
From = Annotated[str | None, typer.Option("--from", metavar="DATE", help="Start (store).")]
To = Annotated[str | None, typer.Option("--to", metavar="DATE", help="End, exclusive (store).")]
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


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"{what} {item!r} is not NAME=VALUE", code="bad_option")
        out[name.strip()] = value.strip()
    return out


def _moment(text: str, option: str) -> datetime:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not an ISO-8601 date or time", code="bad_option")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _request(
    strategy: str,
    symbol: str,
    timeframe: Timeframe,
    params: list[str] | None,
    capital: str,
    quantity: str | None,
    sizing: str,
    sizing_params: list[str] | None,
    long_only: bool,
    no_costs: bool,
    fill: FillOption,
    slippage_bps: str,
    slippage_ticks: int,
    stops: bool,
    risk: RiskOption,
    product: Product,
) -> BacktestRequest:
    from pydantic import ValidationError

    from algotrade.console import validation_message
    from analytics_service.backtest import BacktestRequest, BacktestSettings, Direction, FillAt
    from order_processor.domain.risk import RiskLimits

    sizing_values: dict[str, Any] = _pairs(sizing_params, "--sizing-param")
    if quantity is not None:
        sizing, sizing_values = "fixed_quantity", {"quantity": quantity}
    try:
        return BacktestRequest(
            strategy=strategy,
            params=_pairs(params, "--param"),
            symbol=symbol,
            timeframe=timeframe,
            settings=BacktestSettings(
                capital=capital,
                sizing_method=sizing,
                sizing_params=sizing_values,
                fill=FillAt.CLOSE if fill is FillOption.CLOSE else FillAt.NEXT_OPEN,
                slippage_bps=slippage_bps,
                slippage_ticks=slippage_ticks,
                charges=not no_costs,
                direction=Direction.LONG_ONLY if long_only else Direction.LONG_SHORT,
                stops=stops,
                product=product,
                risk=RiskLimits(disabled_checks=frozenset({"market_hours", "order_rate"}))
                if risk is RiskOption.DEFAULT
                else None,
            ),
        )
    except ValidationError as exc:
        fail(validation_message(exc), code="validation_error")
    except DomainError as exc:
        fail(exc.message, code=exc.code)


def _bars(
    ctx: typer.Context,
    request: BacktestRequest,
    data: Path | None,
    start: str | None,
    end: str | None,
) -> Bars:
    from analytics_service.backtest import bars_from_candles, load_bars

    if (data is None) == (start is None and end is None):
        fail("give either --data FILE or --from DATE --to DATE", code="bad_option")
    if data is not None:
        try:
            return load_bars(data, request.symbol, request.timeframe)
        except DomainError as exc:
            fail(f"{data}: {exc.message}", code=exc.code)
    if start is None or end is None:
        fail("--from and --to go together", code="bad_option")
    lo, hi = _moment(start, "--from"), _moment(end, "--to")
    if hi <= lo:
        fail("--to must be after --from", code="bad_option")

    async def work(cli: CliContext) -> Bars:
        candles = await cli.tickstore.query_candles(
            request.symbol, request.timeframe, lo, hi, limit=STORE_LIMIT
        )
        return bars_from_candles(request.symbol, request.timeframe, candles)

    return run(ctx, work, as_json=False)


def _fine(
    ctx: typer.Context,
    request: BacktestRequest,
    path: Path | None,
    timeframe: Timeframe,
    start: str | None,
    end: str | None,
) -> Bars | None:
    """Finer candles to replay inside bars: the file given, or the store's 1m candles over
    the range when there are any (only with stops: nothing else happens inside a bar)."""
    from analytics_service.backtest import bars_from_candles, load_bars

    if path is not None:
        try:
            return load_bars(path, request.symbol, timeframe)
        except DomainError as exc:
            fail(f"{path}: {exc.message}", code=exc.code)
    if not request.settings.stops or request.timeframe is Timeframe.M1 or start is None:
        return None
    lo, hi = _moment(start, "--from"), _moment(end or start, "--to")

    async def work(cli: CliContext) -> Bars | None:
        candles = await cli.tickstore.query_candles(
            request.symbol, Timeframe.M1, lo, hi, limit=STORE_LIMIT
        )
        return bars_from_candles(request.symbol, Timeframe.M1, candles) if candles else None

    return run(ctx, work, as_json=False)


def _walk_spec(folds: int | None, fraction: float | None, anchored: bool) -> WalkForwardSpec | None:
    from analytics_service.backtest.walkforward import WalkForwardSpec

    if folds is None and fraction is None:
        if anchored:
            fail("--anchored goes with --walk-forward or --out-of-sample", code="bad_option")
        return None
    try:
        return WalkForwardSpec(
            folds=folds or 1,
            out_of_sample=fraction if fraction is not None else 0.25,
            anchored=anchored,
        )
    except DomainError as exc:
        fail(exc.message, code=exc.code)


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
    html_out: Annotated[
        Path | None, typer.Option("--html", metavar="OUT", help="Write an offline HTML report.")
    ] = None,
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

    from analytics_service.backtest import build_report, market_for, run_backtest
    from analytics_service.backtest.engine import build_strategy
    from analytics_service.backtest.html import render_html
    from analytics_service.backtest.lookahead import check_lookahead as lookahead
    from strategy_workers.strategies.registry import registry

    if data is not None and len(data) != len(symbols):
        fail("give one --data FILE per --symbol, in the same order", code="bad_option")
    if intrabar_data is not None and len(intrabar_data) != len(symbols):
        fail("give one --intrabar-data FILE per --symbol, in the same order", code="bad_option")
    spec = _walk_spec(walk_forward, out_of_sample, anchored)
    if spec is not None and (len(symbols) > 1 or check_lookahead):
        fail(
            "a walk-forward run takes one --symbol and no --check-lookahead (run the "
            "look-ahead check on the whole history)",
            code="bad_option",
        )
    base = _request(
        strategy, symbols[0], timeframe, params, capital, quantity, sizing, sizing_params,
        long_only, no_costs, fill, slippage_bps, slippage_ticks, stops, risk, product,
    )  # fmt: skip
    jobs = []
    for n, symbol in enumerate(symbols):
        request = base.model_copy(update={"symbol": symbol})
        bars = _bars(ctx, request, data[n] if data else None, start, end)
        fine_file = intrabar_data[n] if intrabar_data else None
        fine = _fine(ctx, request, fine_file, intrabar_timeframe, start, end)
        jobs.append((request, bars, fine))
    results = []
    findings = []
    try:
        with Progress(console=console(), transient=True) as progress:
            for request, bars, fine in jobs:
                instrument, fees = market_for(request.symbol)
                task = progress.add_task(f"{request.symbol}: {len(bars):,} bars", total=1.0)
                if spec is not None:
                    report = _walk_forward(request, bars, spec, fine, _advance(progress, task))
                    results.append(report.pop("_run"))
                    continue
                result = run_backtest(
                    request, bars, instrument, fees, progress=_advance(progress, task), fine=fine
                )
                results.append(result)
                if check_lookahead:
                    findings += lookahead(result, build_strategy(request, registry))
        if spec is None:
            report = build_report(results)
    except DomainError as exc:
        fail(exc.message, code=exc.code)
    if check_lookahead:
        report["lookahead"] = [
            {"time": f.bar_time.isoformat(), "problem": f.problem} for f in findings
        ]
    if json_out is not None:
        _write(json_out, json.dumps(report, indent=1, ensure_ascii=False))
    if html_out is not None:
        _write(html_out, render_html(results, report))
    conv = report["conventions"]
    bars_total = sum(len(b) for _, b, _ in jobs)
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
    for _, bars, _ in jobs:
        if bars.gap_count:
            console().print(
                f"{bars.symbol}: {bars.gap_count} gaps "
                f"(first after {bars.gaps[0].after.isoformat()})"
            )
    if check_lookahead:
        console().print(
            f"look-ahead check: {len(findings)} signal(s) changed on cut data"
            + "".join(f"\n  {f.bar_time.isoformat()}: {f.problem}" for f in findings)
        )
        if findings:
            raise typer.Exit(1)


def _walk_forward(
    request: BacktestRequest,
    bars: Bars,
    spec: WalkForwardSpec,
    fine: Bars | None,
    progress: Callable[[float], None] | None = None,
    grid: dict[str, list[Any]] | None = None,
    rank_by: str | None = None,
    processes: int = 1,
) -> dict[str, Any]:
    """The stitched walk-forward report; its run (for the HTML page) under ``_run``."""
    from analytics_service.backtest.walkforward import (
        run_walk_forward,
        stitch,
        walk_forward_report,
    )

    folds = run_walk_forward(
        request, bars, spec, grid=grid, rank_by=rank_by or "sharpe", processes=processes,
        fine=fine, progress=progress,
    )  # fmt: skip
    stitched = stitch(request, bars, folds)
    report = walk_forward_report(
        request, bars, spec, folds, rank_by=rank_by if grid else None, stitched=stitched
    )
    report["_run"] = stitched
    return report


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
    symbol: Symbol,
    timeframe: TF,
    grid: Annotated[
        list[str],
        typer.Option(
            "--grid", metavar="NAME=VALUES", help="5,10,20 or start:stop:step (repeatable)."
        ),
    ],
    data: Data = None,
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
    walk_forward: WalkForward = None,
    out_of_sample: OutOfSample = None,
    anchored: Anchored = False,
) -> None:
    """Run a strategy over a grid of parameters in a process pool, ranked by a metric.

    With --walk-forward or --out-of-sample the grid is searched on each fold's in-sample
    window and the best point traded on its out-of-sample window; the windows are stitched
    into one report (--json writes it)."""
    from rich.progress import Progress

    from analytics_service.backtest.sweep import parse_values, run_sweep

    request = _request(
        strategy, symbol, timeframe, params, capital, quantity, sizing, sizing_params, long_only,
        no_costs, fill, slippage_bps, slippage_ticks, False, risk, product,
    )  # fmt: skip
    try:
        values = {name: parse_values(text) for name, text in _pairs(grid, "--grid").items()}
    except DomainError as exc:
        fail(exc.message, code=exc.code)
    spec = _walk_spec(walk_forward, out_of_sample, anchored)
    bars = _bars(ctx, request, data, start, end)
    if spec is not None:
        _walk_forward_sweep(request, bars, spec, values, rank_by, processes, json_out)
        return
    try:
        with Progress(console=console(), transient=True) as progress:
            task = progress.add_task("sweep", total=None)
            ranked, refused = run_sweep(
                request, bars, values, rank_by=rank_by, processes=processes,
                on_point=lambda n, total: progress.update(task, completed=n, total=total),
            )  # fmt: skip
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
    names = list(values)
    print_table(
        f"{strategy} {symbol} {timeframe}: {len(ranked)} runs by {rank_by}"
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


def _walk_forward_sweep(
    request: BacktestRequest,
    bars: Bars,
    spec: WalkForwardSpec,
    grid: dict[str, list[Any]],
    rank_by: str,
    processes: int,
    json_out: Path | None,
) -> None:
    from rich.progress import Progress

    try:
        with Progress(console=console(), transient=True) as progress:
            task = progress.add_task("walk-forward", total=1.0)
            report = _walk_forward(
                request, bars, spec, None, _advance(progress, task), grid, rank_by, processes
            )
    except DomainError as exc:
        fail(exc.message, code=exc.code, exit_code=EXIT_BAD_INPUT)
    report.pop("_run")
    if json_out is not None:
        _write(json_out, json.dumps(report, indent=1, ensure_ascii=False))
    _print_folds(report, rank_by)
    print_table("stitched out of sample", ["metric", "value"], _metrics_rows(report))


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
