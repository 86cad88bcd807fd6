"""Decimal helpers shared by orders, fills, charges and positions.

Prices go onto the tick grid with ``shared.instruments.round_to_tick`` (the one rule).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)
PAISE = Decimal("0.01")
SATOSHI = Decimal("0.00000001")  # the 8 decimals crypto exchanges charge fees in
# Remaining cost of a reduced position is rounded to this scale so that sums stay exact
# within Decimal's 28 significant digits (see positions.py).
COST_SCALE = Decimal("1e-10")
BPS = Decimal(10_000)


def to_decimal(value: Decimal | float | int | str) -> Decimal:
    """A Decimal from market data (floats go through ``str`` so 101.1 stays 101.1)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def round_charge(amount: Decimal, unit: Decimal) -> Decimal:
    """A charge rounded half up to ``unit`` (how contract notes round), but never a positive
    charge to zero: anything above zero and below half a unit is one unit."""
    rounded = amount.quantize(unit, rounding=ROUND_HALF_UP)
    return unit if amount > 0 and rounded == 0 else rounded


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """Whether ``value`` is an integer multiple of ``step`` (``step`` > 0)."""
    return value % step == 0


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """The largest multiple of ``step`` not above ``value``."""
    return (value / step).quantize(ONE, rounding=ROUND_FLOOR) * step
