from decimal import Decimal

import pydantic
import pytest

from order_processor.domain.risk import (
    CHECK_NAMES,
    Decision,
    RiskChain,
    RiskLimits,
    build_chain,
)
from shared.contracts import Side

from .factories import ist, make_order, make_view, position


class Always:
    def __init__(self, name, approved):
        self.name = name
        self.approved = approved
        self.calls = 0

    def check(self, order, view):
        self.calls += 1
        return Decision(self.approved, "ok" if self.approved else "no", "", self.name)


def test_chain_records_every_decision_when_all_pass():
    checks = [Always("a", True), Always("b", True)]

    result = RiskChain(checks).evaluate(make_order(), make_view())

    assert result.approved
    assert [d.check for d in result.decisions] == ["a", "b"]
    assert result.denial is None


def test_chain_stops_at_the_first_denial():
    later = Always("c", True)
    chain = RiskChain([Always("a", True), Always("b", False), later])

    result = chain.evaluate(make_order(), make_view())

    assert not result.approved
    assert [d.check for d in result.decisions] == ["a", "b"]
    assert result.denial == result.decisions[-1]
    assert later.calls == 0


def test_default_chain_runs_every_check_in_the_default_order():
    assert build_chain().names == CHECK_NAMES


def test_default_limits_are_the_documented_defaults():
    limits = RiskLimits()

    assert (limits.max_daily_loss, limits.max_weekly_loss, limits.max_drawdown) == (
        Decimal("0.03"),
        Decimal("0.06"),
        Decimal("0.10"),
    )
    assert (limits.max_open_positions, limits.max_position_size, limits.risk_per_trade) == (
        5,
        Decimal("0.20"),
        Decimal("0.02"),
    )
    assert (limits.capital_reserve, limits.max_sector_exposure, limits.max_orders_per_second) == (
        Decimal(1000),
        Decimal("0.40"),
        10,
    )


def test_disabled_checks_are_left_out():
    chain = build_chain(RiskLimits(disabled_checks=frozenset({"duplicate_position", "order_rate"})))

    assert "duplicate_position" not in chain.names
    assert "order_rate" not in chain.names
    assert len(chain.names) == len(CHECK_NAMES) - 2


def test_check_order_is_configurable():
    chain = build_chain(RiskLimits(check_order=("capital_reserve", "kill_switch")))

    assert chain.names == ("capital_reserve", "kill_switch")


def test_unknown_check_name_is_refused():
    with pytest.raises(pydantic.ValidationError, match="unknown risk checks: nope"):
        RiskLimits(check_order=("kill_switch", "nope"))


def test_limits_feed_the_checks():
    chain = build_chain(RiskLimits(max_position_size=Decimal("0.50")))
    order = make_order(quantity=Decimal(40))  # 40% of equity: above the default, within 50%

    assert chain.evaluate(order, make_view()).approved


def test_healthy_account_passes_the_default_chain():
    result = build_chain().evaluate(make_order(quantity=Decimal(10)), make_view())

    assert result.approved
    assert len(result.decisions) == len(CHECK_NAMES)


def test_default_chain_denies_with_the_first_failing_rule_code():
    view = make_view(user_halted=True, now=ist(8))

    result = build_chain().evaluate(make_order(), view)

    assert (result.denial.check, result.denial.code) == ("kill_switch", "halted_user")


def test_exit_passes_the_default_chain_while_halted_and_over_limits():
    view = make_view(
        user_halted=True, equity=Decimal(80_000), positions=[position("INFY", 80, 1000, "IT")]
    )
    order = make_order(side=Side.SELL, quantity=Decimal(80))

    result = build_chain().evaluate(order, view)

    assert result.approved
    assert {d.code for d in result.decisions} >= {"risk_reducing"}


def test_a_pass_that_says_the_same_is_one_value_and_a_denial_is_new_each_time():
    # Verdicts of orders that share their passes are stored from one list: the passes of
    # a check (with or without a message) must be shared values, and still say what they say.
    from order_processor.domain.risk.base import BaseCheck

    class Probe(BaseCheck):
        name = "probe"

    check = Probe()
    assert check.ok() is check.ok()
    noted = check.ok("no stop given", "no_stop")
    assert noted is check.ok("no stop given", "no_stop")
    assert (noted.approved, noted.code, noted.message, noted.check) == (
        True,
        "no_stop",
        "no stop given",
        "probe",
    )
    assert check.ok("other wording", "no_stop") is not noted
    assert check.deny("limit", "too big") is not check.deny("limit", "too big")
