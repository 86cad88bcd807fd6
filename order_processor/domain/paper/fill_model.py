"""The paper broker's fill conventions, as pure functions of one tick.

- Market orders (and triggered SL-M orders) fill at the tick price moved
  ``slippage_bps`` against the order (up for a buy, down for a sell), rounded
  to the tick grid in the same adverse direction (a tick price off the grid is
  first put on its nearest point, half to even: ``shared.instruments.round_to_tick``).
- Limit orders fill when a tick crosses the limit (buy: tick <= limit; sell:
  tick >= limit) at the limit price or the tick price, whichever is better for
  the order; no slippage.
- Stop orders trigger when a tick touches the trigger (buy: tick >= trigger;
  sell: tick <= trigger); SL then behaves as a limit order and SL-M as a market
  order, starting with the triggering tick.
- Quantity: with no ``participation`` rate every fill takes the whole remaining
  quantity. With a rate, one tick offers ``rate x tick quantity`` (rounded down
  to the lot size) to all resting orders of the symbol in time priority; a
  tick that reports no quantity fills in full.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import Side
from shared.instruments import round_to_tick

from ..money import BPS, ONE, ZERO


class FillModel(BaseModel):
    """Slippage and participation settings of the paper broker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    slippage_bps: Decimal = Field(ZERO, ge=0, le=1000)
    """Adverse slippage on market fills, in basis points of the tick price."""
    participation: Decimal | None = Field(None, gt=0, le=1)
    """Share of each tick's quantity our orders may take; None: fill in full."""

    def market_price(self, side: Side, tick_price: Decimal, tick_size: Decimal) -> Decimal:
        """Fill price of a market order against a tick at ``tick_price``."""
        base = round_to_tick(tick_price, tick_size)
        if not self.slippage_bps:
            return base
        if side is Side.BUY:
            return round_to_tick(base * (ONE + self.slippage_bps / BPS), tick_size, "up")
        return round_to_tick(base * (ONE - self.slippage_bps / BPS), tick_size, "down")

    def available(self, tick_qty: Decimal) -> Decimal | None:
        """Quantity a tick offers to our resting orders; None means no limit."""
        if self.participation is None or tick_qty <= 0:
            return None
        return tick_qty * self.participation


def limit_price(side: Side, limit: Decimal, tick_price: Decimal) -> Decimal | None:
    """Fill price of a limit order against a tick, or None if the tick does not cross it."""
    if side is Side.BUY:
        return min(limit, tick_price) if tick_price <= limit else None
    return max(limit, tick_price) if tick_price >= limit else None


def is_triggered(side: Side, trigger: Decimal, tick_price: Decimal) -> bool:
    """Whether a tick touches a stop order's trigger price."""
    return tick_price >= trigger if side is Side.BUY else tick_price <= trigger
