"""A user's risk limits: the numbers the checks use and which checks run, in what order."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

CHECK_NAMES: tuple[str, ...] = (
    "kill_switch",
    "market_hours",
    "order_rate",
    "freeze_quantity",
    "price_band",
    "daily_loss",
    "weekly_loss",
    "max_drawdown",
    "max_open_positions",
    "duplicate_position",
    "max_position_size",
    "risk_per_trade",
    "sector_concentration",
    "capital_reserve",
)
"""Every check, in the default order: cheap account-wide gates first, exposure last."""


_Names = tuple[str, ...] | frozenset[str]


class RiskLimits(BaseModel):
    """Per-user limits; fractions are of equity unless said otherwise."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_daily_loss: Decimal = Field(Decimal("0.03"), gt=0, le=1)
    """Loss since the start of the day, as a fraction of start-of-day equity."""
    max_weekly_loss: Decimal = Field(Decimal("0.06"), gt=0, le=1)
    """Loss since the start of the week, as a fraction of start-of-week equity."""
    max_drawdown: Decimal = Field(Decimal("0.10"), gt=0, le=1)
    """Fall from peak equity, as a fraction of the peak."""
    max_open_positions: int = Field(5, ge=1)
    max_position_size: Decimal = Field(Decimal("0.20"), gt=0)
    """Notional of one symbol's position (with working orders) as a fraction of equity."""
    risk_per_trade: Decimal = Field(Decimal("0.02"), gt=0, le=1)
    """Loss to the order's stop, as a fraction of equity."""
    require_stop: bool = False
    """Deny orders without a stop (else they pass risk-per-trade with code ``no_stop``)."""
    capital_reserve: Decimal = Field(Decimal(1000), ge=0)
    """Free margin (INR) that must remain after the order."""
    max_sector_exposure: Decimal = Field(Decimal("0.40"), gt=0)
    """Notional of one sector as a fraction of equity."""
    max_orders_per_second: int = Field(10, ge=1)
    price_band: Decimal = Field(Decimal("0.05"), gt=0, le=1)
    """Largest distance of a limit or trigger price from the last price, as a fraction."""
    halt_allows_risk_reducing: bool = True
    """While halted, let orders through that only reduce a position."""
    check_order: tuple[str, ...] = CHECK_NAMES
    """Which checks run and in what order."""
    disabled_checks: frozenset[str] = frozenset()
    """Checks skipped even if listed in ``check_order``."""

    @field_validator("check_order", "disabled_checks")
    @classmethod
    def _known_checks(cls, names: _Names) -> _Names:
        unknown = sorted(set(names) - set(CHECK_NAMES))
        if unknown:
            raise ValueError(f"unknown risk checks: {', '.join(unknown)}")
        return names

    @field_validator("check_order")
    @classmethod
    def _no_repeats(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(names)) != len(names):
            raise ValueError("a check is listed twice")
        return names

    @property
    def enabled_checks(self) -> tuple[str, ...]:
        """The checks that run, in order."""
        return tuple(n for n in self.check_order if n not in self.disabled_checks)
