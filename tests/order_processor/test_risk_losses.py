from decimal import Decimal

import pytest

from order_processor.domain.risk.losses import DailyLossCheck, DrawdownCheck, WeeklyLossCheck
from shared.contracts import Side

from .factories import make_order, make_view, position

CASES = [
    (DailyLossCheck, "start_of_day_equity", "daily_loss_limit", Decimal("0.03")),
    (WeeklyLossCheck, "start_of_week_equity", "weekly_loss_limit", Decimal("0.06")),
    (DrawdownCheck, "peak_equity", "max_drawdown", Decimal("0.10")),
]


@pytest.mark.parametrize(("check_cls", "base_field", "code", "limit"), CASES)
def test_loss_just_below_the_limit_passes(check_cls, base_field, code, limit):
    base = Decimal(200_000)
    view = make_view(equity=base * (1 - limit) + Decimal("0.01"), **{base_field: base})

    assert check_cls(limit).check(make_order(), view).approved


@pytest.mark.parametrize(("check_cls", "base_field", "code", "limit"), CASES)
def test_loss_at_the_limit_denies_new_risk(check_cls, base_field, code, limit):
    base = Decimal(200_000)
    view = make_view(equity=base * (1 - limit), **{base_field: base})

    decision = check_cls(limit).check(make_order(), view)

    assert (decision.approved, decision.code) == (False, code)


@pytest.mark.parametrize(("check_cls", "base_field", "code", "limit"), CASES)
def test_loss_limit_lets_a_risk_reducing_order_through(check_cls, base_field, code, limit):
    base = Decimal(200_000)
    view = make_view(equity=base / 2, positions=[position("INFY", 10, 1000)], **{base_field: base})

    decision = check_cls(limit).check(make_order(side=Side.SELL, quantity=Decimal(10)), view)

    assert (decision.approved, decision.code) == (True, "risk_reducing")


def test_daily_loss_ignores_an_older_weekly_loss():
    view = make_view(
        equity=Decimal(90_000),
        start_of_day_equity=Decimal(90_000),
        start_of_week_equity=Decimal(100_000),
    )

    assert DailyLossCheck(Decimal("0.03")).check(make_order(), view).approved
