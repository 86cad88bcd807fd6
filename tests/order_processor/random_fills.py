"""Random trading for the account property tests: orders of one or more fills, marks.

A case draws a market (an INR account on NSE, or a USDT account on crypto, so
that each is charged by its real fee model), then steps on random symbols and
products: buys and sells, exact closes and flips through zero, each an order
filled in one to three parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from hypothesis import strategies as st

from order_processor.domain.fills import Fill
from shared.contracts import Product, Side

from .factories import ist

MARKETS = {  # currency -> (symbols, tick size, lot size)
    "INR": (("INFY", "TCS"), Decimal("0.05"), Decimal(1)),
    "USDT": (("SOLUSDT", "ETHUSDT"), Decimal("0.01"), Decimal("0.001")),
}
ACTIONS = ("buy", "sell", "close", "flip")


@dataclass(frozen=True)
class Step:
    symbol: str
    product: Product
    action: str
    lots: int
    price: Decimal
    parts: int


@dataclass(frozen=True)
class Case:
    currency: str
    steps: list[Step]
    marks: dict[str, Decimal]
    lot: Decimal


@dataclass(frozen=True)
class PlannedOrder:
    """One order's terms and its fills (``user_id`` and ``client_order_id`` are set later)."""

    symbol: str
    side: Side
    product: Product
    quantity: Decimal
    fills: list[Fill]


@st.composite
def cases(draw: st.DrawFn, max_steps: int = 30) -> Case:
    currency = draw(st.sampled_from(sorted(MARKETS)))
    symbols, tick, lot = MARKETS[currency]
    step = st.builds(
        Step,
        symbol=st.sampled_from(symbols),
        product=st.sampled_from([Product.MIS, Product.CNC]),
        action=st.sampled_from(ACTIONS),
        lots=st.integers(1, 500),
        price=st.integers(1, 100_000).map(lambda n: n * tick),
        parts=st.integers(1, 3),
    )
    steps = draw(st.lists(step, max_size=max_steps))
    marks = draw(st.fixed_dictionaries({s: st.integers(1, 100_000) for s in symbols}))
    return Case(currency, steps, {s: n * tick for s, n in marks.items()}, lot)


def plan(case: Case, user_id: int = 1, prefix: str = "o") -> list[PlannedOrder]:
    """The orders of ``case``: closes and flips are sized against the position so far."""
    held: dict[tuple[str, Product], Decimal] = {}
    orders = []
    ts = ist(9, 15)
    for i, step in enumerate(case.steps):
        key = (step.symbol, step.product)
        position = held.get(key, Decimal(0))
        quantity = step.lots * case.lot
        side = Side.BUY if step.action == "buy" else Side.SELL
        if step.action in ("close", "flip") and position:
            side = Side.SELL if position > 0 else Side.BUY
            quantity = abs(position) + (quantity if step.action == "flip" else 0)
        fills = []
        before = Decimal(0)
        for seq, part in enumerate(_split(quantity, step.parts, case.lot), 1):
            ts += timedelta(minutes=47)  # a few cases run over days and a weekend
            fills.append(
                Fill(
                    user_id=user_id,
                    client_order_id=f"{prefix}-{i}",
                    seq=seq,
                    symbol=step.symbol,
                    side=side,
                    product=step.product,
                    quantity=part,
                    price=step.price,
                    ts=ts,
                    order_turnover_before=before,
                )
            )
            before += part * step.price
        signed = quantity if side is Side.BUY else -quantity
        held[key] = position + signed
        orders.append(PlannedOrder(step.symbol, side, step.product, quantity, fills))
    return orders


def all_fills(orders: list[PlannedOrder]) -> list[Fill]:
    return [f for o in orders for f in o.fills]


def _split(quantity: Decimal, parts: int, lot: Decimal) -> list[Decimal]:
    lots = int(quantity / lot)
    parts = min(parts, lots)
    sizes = [lots // parts] * parts
    sizes[-1] += lots - sum(sizes)
    return [n * lot for n in sizes]
