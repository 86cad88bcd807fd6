"""Loss limits: daily loss, weekly loss and drawdown from peak equity.

Once a limit is reached the account takes no new risk, but orders that only
reduce a position still pass: a loss limit must never trap a trader in a losing
position.
"""

from __future__ import annotations

from decimal import Decimal

from ..orders import Order
from .base import RISK_REDUCING, AccountView, BaseCheck, Decision
from .projection import is_risk_reducing


class _LossFromBase(BaseCheck):
    """Deny new risk once equity has fallen ``limit`` (a fraction) below a base equity."""

    code = ""
    base_label = ""

    def __init__(self, limit: Decimal) -> None:
        self.limit = limit

    def base(self, view: AccountView) -> Decimal:
        raise NotImplementedError

    def check(self, order: Order, view: AccountView) -> Decision:
        base = self.base(view)
        loss = base - view.equity
        if loss < self.limit * base:
            return self.ok()
        if is_risk_reducing(order, view):
            return self.ok(f"{self.code} reached; risk-reducing order allowed", RISK_REDUCING)
        return self.deny(
            self.code,
            f"equity {view.equity} is {loss} below the {self.base_label} "
            f"{base}; the limit is {self.limit:%}",
        )


class DailyLossCheck(_LossFromBase):
    name = "daily_loss"
    code = "daily_loss_limit"
    base_label = "start-of-day equity"

    def base(self, view: AccountView) -> Decimal:
        return view.start_of_day_equity


class WeeklyLossCheck(_LossFromBase):
    name = "weekly_loss"
    code = "weekly_loss_limit"
    base_label = "start-of-week equity"

    def base(self, view: AccountView) -> Decimal:
        return view.start_of_week_equity


class DrawdownCheck(_LossFromBase):
    name = "max_drawdown"
    code = "max_drawdown"
    base_label = "peak equity"

    def base(self, view: AccountView) -> Decimal:
        return view.peak_equity
