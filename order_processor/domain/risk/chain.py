"""The per-user risk chain: ordered checks, first denial wins, every decision recorded.

Only new orders go through the chain. Cancels bypass it: a cancel only ever
removes exposure, and a kill switch that blocked cancels would keep risk open.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from ..orders import Order
from .base import AccountView, Decision, RiskCheck
from .exposure import (
    CapitalReserveCheck,
    DuplicatePositionCheck,
    MaxOpenPositionsCheck,
    MaxPositionSizeCheck,
    RiskPerTradeCheck,
    SectorConcentrationCheck,
)
from .gates import KillSwitchCheck, MarketHoursCheck, OrderRateCheck
from .limits import CHECK_NAMES, RiskLimits
from .losses import DailyLossCheck, DrawdownCheck, WeeklyLossCheck
from .prices import FreezeQuantityCheck, PriceBandCheck

CheckFactory = Callable[[RiskLimits], RiskCheck]

CHECK_FACTORIES: MappingProxyType[str, CheckFactory] = MappingProxyType(
    {
        "kill_switch": lambda lim: KillSwitchCheck(lim.halt_allows_risk_reducing),
        "market_hours": lambda lim: MarketHoursCheck(),
        "order_rate": lambda lim: OrderRateCheck(lim.max_orders_per_second),
        "freeze_quantity": lambda lim: FreezeQuantityCheck(),
        "price_band": lambda lim: PriceBandCheck(lim.price_band),
        "daily_loss": lambda lim: DailyLossCheck(lim.max_daily_loss),
        "weekly_loss": lambda lim: WeeklyLossCheck(lim.max_weekly_loss),
        "max_drawdown": lambda lim: DrawdownCheck(lim.max_drawdown),
        "max_open_positions": lambda lim: MaxOpenPositionsCheck(lim.max_open_positions),
        "duplicate_position": lambda lim: DuplicatePositionCheck(),
        "max_position_size": lambda lim: MaxPositionSizeCheck(lim.max_position_size),
        "risk_per_trade": lambda lim: RiskPerTradeCheck(lim.risk_per_trade, lim.require_stop),
        "sector_concentration": lambda lim: SectorConcentrationCheck(lim.max_sector_exposure),
        "capital_reserve": lambda lim: CapitalReserveCheck(lim.capital_reserve),
    }
)
"""Check name -> how to build it from a user's limits."""

assert tuple(CHECK_FACTORIES) == CHECK_NAMES, "every named check needs a factory, in order"


@dataclass(frozen=True, slots=True)
class RiskResult:
    """The chain's verdict: approved, and every decision taken on the way (the audit trail)."""

    approved: bool
    decisions: tuple[Decision, ...]

    @property
    def denial(self) -> Decision | None:
        """The decision that denied the order, if any (always the last one)."""
        return None if self.approved else self.decisions[-1]


class RiskChain:
    """Runs its checks in order and stops at the first denial."""

    def __init__(self, checks: Sequence[RiskCheck]) -> None:
        self.checks = tuple(checks)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks)

    def evaluate(self, order: Order, view: AccountView) -> RiskResult:
        """Check ``order`` against ``view``; never raises for a rule that fails."""
        decisions: list[Decision] = []
        for check in self.checks:
            decision = check.check(order, view)
            decisions.append(decision)
            if not decision.approved:
                return RiskResult(False, tuple(decisions))
        return RiskResult(True, tuple(decisions))


def build_chain(limits: RiskLimits | None = None) -> RiskChain:
    """The chain for one user: ``limits.enabled_checks`` built from ``limits``, in that order."""
    limits = limits if limits is not None else RiskLimits()
    return RiskChain([CHECK_FACTORIES[name](limits) for name in limits.enabled_checks])
