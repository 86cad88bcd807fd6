"""The equity curve: cash plus open positions at their last known price, at chosen moments.

At a moment ``t`` the scope's

- cash is every cash flow up to and including ``t``: the capital paid in, deposits
  and withdrawals, each fill's cash flow (minus the notional of a buy, plus that of a
  sell) and minus each fill's charges; this equals the starting capital plus the
  stored ledger, which books the same amounts entry by entry;
- market value is, per symbol, the net quantity of its fills up to ``t`` times the
  symbol's last known price at ``t``: the close of the latest stored candle that
  ended by ``t``, a last tick, or the price of the latest fill, whichever is newest;
- equity is cash plus market value.

Money stays decimal (Polars ``Decimal``) from the fills and flows to the equity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import polars as pl

from .types import CashFlow, FillRecord, Mark

MONEY = pl.Decimal(38, 8)
TS = pl.Datetime("us", "UTC")


def _utc(values: Sequence[datetime]) -> list[datetime]:
    return [v.astimezone(UTC) for v in values]


def _cash(flows: Sequence[CashFlow], fills: Sequence[FillRecord]) -> pl.DataFrame:
    """Cumulative cash and cumulative external flows after each moment that moved cash."""
    frame = pl.DataFrame(
        {
            "ts": _utc([f.ts for f in flows] + [f.ts for f in fills]),
            "amount": [f.amount for f in flows] + [f.cash_flow - f.charges for f in fills],
            "external": [f.external for f in flows] + [False] * len(fills),
        },
        schema={"ts": TS, "amount": MONEY, "external": pl.Boolean},
    )
    zero = pl.lit(0).cast(MONEY)
    return (
        frame.group_by("ts")
        .agg(
            pl.col("amount").sum(),
            pl.when(pl.col("external")).then(pl.col("amount")).otherwise(zero).sum().alias("ext"),
        )
        .sort("ts")
        .select(
            "ts",
            pl.col("amount").cum_sum().cast(MONEY).alias("cash"),
            pl.col("ext").cum_sum().cast(MONEY).alias("paid_in"),
        )
    )


def _positions(fills: Sequence[FillRecord]) -> pl.DataFrame:
    """Net quantity per symbol after each moment it changed (over accounts and products)."""
    frame = pl.DataFrame(
        {
            "ts": _utc([f.ts for f in fills]),
            "symbol": [f.symbol for f in fills],
            "qty": [f.signed_quantity for f in fills],
        },
        schema={"ts": TS, "symbol": pl.String, "qty": MONEY},
    )
    return (
        frame.group_by("symbol", "ts")
        .agg(pl.col("qty").sum())
        .sort("symbol", "ts")
        .with_columns(pl.col("qty").cum_sum().over("symbol").cast(MONEY))
        .sort("ts")
    )


def _prices(fills: Sequence[FillRecord], marks: Sequence[Mark]) -> pl.DataFrame:
    """Every known price per symbol and moment; a fill wins over a mark of the same moment."""
    from_marks = pl.DataFrame(
        {
            "ts": _utc([m.ts for m in marks]),
            "symbol": [m.symbol for m in marks],
            "price": [m.price for m in marks],
            "rank": [0] * len(marks),
        },
        schema={"ts": TS, "symbol": pl.String, "price": pl.Float64, "rank": pl.Int8},
    ).with_columns(pl.col("price").cast(MONEY))
    from_fills = pl.DataFrame(
        {
            "ts": _utc([f.ts for f in fills]),
            "symbol": [f.symbol for f in fills],
            "price": [f.price for f in fills],
            "rank": [1] * len(fills),
        },
        schema={"ts": TS, "symbol": pl.String, "price": MONEY, "rank": pl.Int8},
    )
    return (
        pl.concat([from_marks, from_fills])
        .sort("symbol", "ts", "rank")
        .group_by("symbol", "ts", maintain_order=True)
        .last()
        .select("ts", "symbol", "price")
        .sort("ts")
    )


def equity_at(
    points: Sequence[datetime],
    flows: Sequence[CashFlow],
    fills: Sequence[FillRecord],
    marks: Sequence[Mark] = (),
) -> pl.DataFrame:
    """The scope at each of ``points`` (deduplicated, ascending).

    Columns: ``ts``, ``cash``, ``market_value``, ``equity``, ``paid_in`` (external flows
    so far) and ``exposed`` (a position is open). Everything at a moment counts at that
    moment: a fill at ``t`` is in the equity at ``t``.
    """
    grid = pl.DataFrame({"ts": sorted(set(_utc(points)))}, schema={"ts": TS})
    zero = pl.lit(0).cast(MONEY)
    curve = grid.join_asof(_cash(flows, fills), on="ts", check_sortedness=False).with_columns(
        pl.col("cash").fill_null(zero), pl.col("paid_in").fill_null(zero)
    )
    symbols = sorted({f.symbol for f in fills})
    if symbols:
        held = (
            grid.join(pl.DataFrame({"symbol": symbols}), how="cross")
            .sort("ts")
            .join_asof(_positions(fills), on="ts", by="symbol", check_sortedness=False)
            .join_asof(_prices(fills, marks), on="ts", by="symbol", check_sortedness=False)
            .with_columns(pl.col("qty").fill_null(zero))
            .group_by("ts")
            .agg(
                (pl.col("qty") * pl.col("price").fill_null(zero)).sum().alias("market_value"),
                (pl.col("qty") != 0).any().alias("exposed"),
            )
        )
        curve = curve.join(held, on="ts", how="left")
    else:
        curve = curve.with_columns(market_value=zero, exposed=pl.lit(False))
    return curve.sort("ts").select(
        "ts",
        "cash",
        pl.col("market_value").cast(MONEY),
        (pl.col("cash") + pl.col("market_value")).cast(MONEY).alias("equity"),
        "paid_in",
        "exposed",
    )


@dataclass(frozen=True, slots=True)
class CurvePoint:
    ts: datetime
    equity: Decimal
    cash: Decimal
    market_value: Decimal
    drawdown: float
    """Below the running peak of the time-weighted equity (0 at a peak, -0.1 for 10% below)."""


def equity_curve(
    points: Sequence[datetime],
    flows: Sequence[CashFlow],
    fills: Sequence[FillRecord],
    marks: Sequence[Mark] = (),
) -> list[CurvePoint]:
    """The marked equity at ``points``, from the first holding capital, with its drawdown.

    Capital paid in or taken out between two points counts at the earlier one, as in the
    daily returns, so a deposit is no gain and a withdrawal no drawdown.
    """
    frame = equity_at(points, flows, fills, marks)
    held = frame.filter((pl.col("equity") != 0) | (pl.col("paid_in") != 0))
    if held.is_empty():
        return []
    equity = held["equity"].cast(pl.Float64).to_numpy()
    paid = held["paid_in"].cast(pl.Float64).to_numpy()
    growth = np.ones_like(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        base = equity[:-1] + np.diff(paid)
        growth[1:] = np.where(base > 0, equity[1:] / base, 1.0)
    if len(held) < len(frame) and paid[0] > 0:
        growth[0] = equity[0] / paid[0]  # began inside the range: measured from the capital
    wealth = np.cumprod(growth)
    drawdown = wealth / np.maximum(np.fmax.accumulate(wealth), 1.0) - 1.0
    rows = held.select("ts", "equity", "cash", "market_value").iter_rows()
    return [
        CurvePoint(ts, equity_, cash, value, float(dd))
        for (ts, equity_, cash, value), dd in zip(rows, drawdown, strict=True)
    ]
