"""What ``algotrade backtest`` and ``algotrade sweep`` read: the request from the options,
and each symbol's bars from a file or the store, with the warm-up before ``--from``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from algotrade.console import fail, run
from shared.contracts import Product, Timeframe
from shared.errors import DomainError

if TYPE_CHECKING:
    from algotrade.context import CliContext
    from analytics_service.backtest import BacktestRequest, Bars
    from analytics_service.backtest.portfolio import SymbolData
    from analytics_service.backtest.walkforward import WalkForwardSpec

STORE_LIMIT = 5_000_000


class FillOption(StrEnum):
    NEXT_OPEN = "next-open"
    CLOSE = "close"


class RiskOption(StrEnum):
    DEFAULT = "default"
    OFF = "off"


def pairs(items: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"{what} {item!r} is not NAME=VALUE", code="bad_option")
        out[name.strip()] = value.strip()
    return out


def moment(text: str, option: str) -> datetime:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not an ISO-8601 date or time", code="bad_option")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_request(
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

    sizing_values: dict[str, Any] = pairs(sizing_params, "--sizing-param")
    if quantity is not None:
        sizing, sizing_values = "fixed_quantity", {"quantity": quantity}
    try:
        return BacktestRequest(
            strategy=strategy,
            params=pairs(params, "--param"),
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


def range_of(
    data: Path | None, start: str | None, end: str | None
) -> tuple[datetime | None, datetime | None]:
    """``--from`` and ``--to``: both to read the store; either or none with ``--data``."""
    if data is None and start is None and end is None:
        fail("give either --data FILE or --from DATE --to DATE", code="bad_option")
    if data is None and (start is None or end is None):
        fail("--from and --to go together", code="bad_option")
    lo = moment(start, "--from") if start is not None else None
    hi = moment(end, "--to") if end is not None else None
    if lo is not None and hi is not None and hi <= lo:
        fail("--to must be after --from", code="bad_option")
    return lo, hi


def symbol_data(
    ctx: typer.Context,
    request: BacktestRequest,
    data: Path | None,
    start: str | None,
    end: str | None,
    *,
    warmup: int,
) -> SymbolData:
    """The symbol's bars over the range, with up to ``warmup`` bars before ``--from`` read
    as history (from the file's earlier lines, or the store's candles before it)."""
    from analytics_service.backtest import load_bars
    from analytics_service.backtest.portfolio import in_range
    from analytics_service.backtest_store import range_data

    lo, hi = range_of(data, start, end)
    if data is not None:
        try:
            return in_range(load_bars(data, request.symbol, request.timeframe), lo, hi, warmup)
        except DomainError as exc:
            fail(f"{data}: {exc.message}", code=exc.code)
    assert lo is not None and hi is not None

    async def work(cli: CliContext) -> SymbolData:
        return await range_data(
            cli.tickstore, request.symbol, request.timeframe, lo, hi, warmup=warmup,
            limit=STORE_LIMIT,
        )  # fmt: skip

    return run(ctx, work, as_json=False)


def fine_bars(
    ctx: typer.Context,
    request: BacktestRequest,
    path: Path | None,
    timeframe: Timeframe,
    data: Path | None,
    start: str | None,
    end: str | None,
) -> Bars | None:
    """Finer candles to replay inside bars: the file given, or, for a run on the store's
    candles, its 1m candles over the range when there are any (only with stops: nothing
    else happens inside a bar)."""
    from analytics_service.backtest import load_bars
    from analytics_service.backtest_store import minute_bars

    if path is not None:
        try:
            return load_bars(path, request.symbol, timeframe)
        except DomainError as exc:
            fail(f"{path}: {exc.message}", code=exc.code)
    if not request.settings.stops or request.timeframe is Timeframe.M1 or data is not None:
        return None
    lo, hi = range_of(data, start, end)
    assert lo is not None and hi is not None

    async def work(cli: CliContext) -> Bars | None:
        return await minute_bars(cli.tickstore, request.symbol, lo, hi, limit=STORE_LIMIT)

    return run(ctx, work, as_json=False)


def walk_spec(folds: int | None, fraction: float | None, anchored: bool) -> WalkForwardSpec | None:
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
