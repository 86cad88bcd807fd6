"""Exposure checks: position count, duplicates, position size, risk per trade, sector, reserve.

Each lets risk-reducing orders through (code ``risk_reducing``): closing or
trimming a position never needs more room.
"""

from __future__ import annotations

from decimal import Decimal

from ..money import ZERO
from ..orders import Order
from .base import RISK_REDUCING, AccountView, BaseCheck, Decision
from .projection import (
    exposure_increasing_commitment,
    is_risk_reducing,
    margin_used,
    order_price,
    projected_quantity,
)


class _ExposureCheck(BaseCheck):
    def check(self, order: Order, view: AccountView) -> Decision:
        if is_risk_reducing(order, view):
            return self.ok("order only reduces a position", RISK_REDUCING)
        return self.check_increase(order, view)

    def check_increase(self, order: Order, view: AccountView) -> Decision:
        raise NotImplementedError

    def no_price(self, order: Order) -> Decision:
        return self.deny("no_price", f"no price to value the order in {order.symbol}")


class MaxOpenPositionsCheck(_ExposureCheck):
    """An order in a new symbol may not take the count of open symbols above ``limit``.

    Symbols with only working orders count as open: they are positions in the making.
    """

    name = "max_open_positions"

    def __init__(self, limit: int = 5) -> None:
        self.limit = limit

    def check_increase(self, order: Order, view: AccountView) -> Decision:
        symbols = {s for s, p in view.positions.items() if p.quantity != 0}
        symbols |= view.totals.symbols()
        if order.symbol in symbols or len(symbols) < self.limit:
            return self.ok()
        return self.deny(
            "max_open_positions",
            f"{len(symbols)} symbols are open or have working orders; the limit is {self.limit}",
        )


class DuplicatePositionCheck(_ExposureCheck):
    """No second entry in the same direction: no adding to a position or to a working entry."""

    name = "duplicate_position"

    def check_increase(self, order: Order, view: AccountView) -> Decision:
        position = view.position_quantity(order.symbol)
        if position != 0 and (position > 0) == (order.sign > 0):
            return self.deny(
                "duplicate_position",
                f"a {'long' if position > 0 else 'short'} "
                f"position in {order.symbol} is already open",
            )
        if position == 0 and view.totals.has(order.symbol, order.side):
            return self.deny(
                "duplicate_position",
                f"a working {order.side} order in {order.symbol} would already open this position",
            )
        return self.ok()


class MaxPositionSizeCheck(_ExposureCheck):
    """The symbol's position, once this and same-side working orders fill, <= ``limit`` x equity."""

    name = "max_position_size"

    def __init__(self, limit: Decimal = Decimal("0.20")) -> None:
        self.limit = limit

    def check_increase(self, order: Order, view: AccountView) -> Decision:
        price = order_price(order, view)
        if price is None:
            return self.no_price(order)
        notional = abs(projected_quantity(order, view)) * price
        allowed = self.limit * view.equity
        if notional > allowed:
            return self.deny(
                "max_position_size",
                f"position of {notional:.2f} in {order.symbol} "
                f"would exceed {self.limit:%} of equity ({allowed:.2f})",
            )
        return self.ok()


class RiskPerTradeCheck(_ExposureCheck):
    """Loss to the order's stop (quantity x distance from entry) is at most ``limit`` x equity.

    Without a stop the loss is unknown: the order passes with code ``no_stop``
    (recorded in the audit trail) unless ``require_stop`` is set, when it is
    denied with ``stop_required``.
    """

    name = "risk_per_trade"

    def __init__(self, limit: Decimal = Decimal("0.02"), require_stop: bool = False) -> None:
        self.limit = limit
        self.require_stop = require_stop

    def check_increase(self, order: Order, view: AccountView) -> Decision:
        if order.stop is None:
            if self.require_stop:
                return self.deny("stop_required", "orders that add risk must carry a stop")
            return self.ok("no stop given: risk per trade not measured", "no_stop")
        entry = order_price(order, view)
        if entry is None:
            return self.no_price(order)
        if (order.stop - entry) * order.sign >= 0:
            return self.deny(
                "invalid_stop",
                f"stop {order.stop} is not on the losing side of "
                f"the entry {entry} for a {order.side}",
            )
        risk = order.quantity * abs(entry - order.stop)
        allowed = self.limit * view.equity
        if risk > allowed:
            return self.deny(
                "risk_per_trade",
                f"loss to stop {risk:.2f} exceeds {self.limit:%} of equity ({allowed:.2f})",
            )
        return self.ok()


class SectorConcentrationCheck(_ExposureCheck):
    """Notional in the order's sector, with its projected position, <= ``limit`` x equity."""

    name = "sector_concentration"

    def __init__(self, limit: Decimal = Decimal("0.40")) -> None:
        self.limit = limit

    def check_increase(self, order: Order, view: AccountView) -> Decision:
        sector = view.instrument.sector
        if not sector:  # the catalog leaves it empty
            return self.ok("instrument has no sector", "no_sector")
        price = order_price(order, view)
        if price is None:
            return self.no_price(order)
        exposure = abs(projected_quantity(order, view)) * price
        for p in view.positions.values():
            if p.sector == sector and p.symbol != order.symbol:
                mark = view.mark(p.symbol)
                exposure += abs(p.quantity) * (mark if mark is not None else p.average_price)
        allowed = self.limit * view.equity
        if exposure > allowed:
            return self.deny(
                "sector_concentration",
                f"{sector} exposure {exposure:.2f} would "
                f"exceed {self.limit:%} of equity ({allowed:.2f})",
            )
        return self.ok()


class CapitalReserveCheck(_ExposureCheck):
    """Free margin after this order and the working ones stays at or above ``reserve`` INR."""

    name = "capital_reserve"

    def __init__(self, reserve: Decimal = Decimal(1000)) -> None:
        self.reserve = reserve

    def check_increase(self, order: Order, view: AccountView) -> Decision:
        price = order_price(order, view)
        if price is None:
            return self.no_price(order)
        free = view.equity - margin_used(view) - exposure_increasing_commitment(view)
        left = free - order.quantity * price
        if left < self.reserve:
            return self.deny(
                "capital_reserve",
                f"{max(left, ZERO):.2f} would be left free; {self.reserve} must stay free",
            )
        return self.ok()
