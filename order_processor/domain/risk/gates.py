"""Account-wide gates: kill switch, market hours, order rate."""

from __future__ import annotations

from datetime import time, timedelta

from shared.calendar import MIS_SQUARE_OFF
from shared.contracts import Product
from shared.market_status import closed_message

from ..orders import Order
from .base import RISK_REDUCING, AccountView, BaseCheck, Decision
from .projection import is_risk_reducing


class KillSwitchCheck(BaseCheck):
    """A halted account (the user's own halt or the global one) takes only risk-reducing orders."""

    name = "kill_switch"

    def __init__(self, allow_risk_reducing: bool = True) -> None:
        self.allow_risk_reducing = allow_risk_reducing

    def check(self, order: Order, view: AccountView) -> Decision:
        if not (view.global_halted or view.user_halted):
            return self.ok()
        scope = "global" if view.global_halted else "user"
        if self.allow_risk_reducing and is_risk_reducing(order, view):
            return self.ok(f"trading halted ({scope}); risk-reducing order allowed", RISK_REDUCING)
        accepted = (
            "orders that reduce an open position" if self.allow_risk_reducing else "no orders"
        )
        return self.deny(f"halted_{scope}", f"trading is halted ({scope}); {accepted} are accepted")


class MarketHoursCheck(BaseCheck):
    """The market is open; on NSE, no new intraday exposure after the MIS square-off time."""

    name = "market_hours"

    def __init__(self, mis_cutoff: time = MIS_SQUARE_OFF) -> None:
        self.mis_cutoff = mis_cutoff

    def check(self, order: Order, view: AccountView) -> Decision:
        calendar = view.calendar
        if not calendar.is_open(view.now):
            return self.deny("market_closed", closed_message(calendar, view.now))
        if (
            calendar.name == "NSE"
            and order.product is Product.MIS
            and view.now.astimezone(calendar.tz).time() >= self.mis_cutoff
            and not is_risk_reducing(order, view)
        ):
            return self.deny(
                "mis_cutoff",
                f"no new intraday (MIS) positions after {self.mis_cutoff:%H:%M} {calendar.tz}",
            )
        return self.ok()


class OrderRateCheck(BaseCheck):
    """At most ``max_per_second`` orders in any one-second window (SEBI's retail-algo threshold)."""

    name = "order_rate"

    def __init__(self, max_per_second: int = 10) -> None:
        self.max_per_second = max_per_second

    def check(self, order: Order, view: AccountView) -> Decision:
        since = view.now - timedelta(seconds=1)
        recent = sum(1 for ts in view.recent_order_times if since < ts <= view.now)
        if recent >= self.max_per_second:
            return self.deny(
                "order_rate_limit",
                f"{recent} orders in the last second; the limit "
                f"is {self.max_per_second} per second",
            )
        return self.ok()
