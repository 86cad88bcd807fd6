"""Price alert crossing logic: the O(log n) index agrees with a plain scan of every rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_service.alerts.price import PriceIndex, PriceRule
from shared.alerts import PriceCondition, PriceRepeat

T0 = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
ABOVE, BELOW, MOVES = (
    PriceCondition.CROSSES_ABOVE,
    PriceCondition.CROSSES_BELOW,
    PriceCondition.MOVES_PCT,
)


def rule(i: int, condition: PriceCondition, price: float, repeat: PriceRepeat) -> PriceRule:
    return PriceRule(i, 1, "INFY", condition, price=price, repeat=repeat)


def naive(rules: list[PriceRule], prices: list[float]) -> list[tuple[int, int]]:
    """(tick index, rule id) of every trigger, by scanning each rule on each tick."""
    alive = {r.id: r for r in rules}
    out = []
    for i in range(1, len(prices)):
        prev, cur = prices[i - 1], prices[i]
        for r in sorted(alive.values(), key=lambda r: (r.condition != ABOVE, r.price, r.id)):
            assert r.price is not None
            up = r.condition is ABOVE and prev < r.price <= cur
            down = r.condition is BELOW and cur <= r.price < prev
            if up or down:
                out.append((i, r.id))
        for _, rid in [o for o in out if o[0] == i]:
            if alive[rid].repeat is PriceRepeat.ONCE:
                del alive[rid]
    return sorted(out)


prices_st = st.lists(st.integers(90, 110).map(float), min_size=2, max_size=60)
rules_st = st.lists(
    st.tuples(
        st.sampled_from([ABOVE, BELOW]),
        st.integers(90, 110).map(float),
        st.sampled_from(list(PriceRepeat)),
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(prices=prices_st, specs=rules_st)
def test_crossings_match_a_scan_of_every_rule(prices, specs):
    rules = [rule(i + 1, c, p, r) for i, (c, p, r) in enumerate(specs)]
    index = PriceIndex(rules)
    got = []
    for i, price in enumerate(prices):
        for trigger in index.on_tick("INFY", price, T0 + timedelta(seconds=i)):
            got.append((i, trigger.rule.id))
    assert sorted(got) == naive(rules, prices)


def test_first_tick_only_sets_the_price():
    index = PriceIndex([rule(1, ABOVE, 100.0, PriceRepeat.ONCE)])
    assert index.on_tick("INFY", 105.0, T0) == []
    assert index.on_tick("INFY", 99.0, T0) == []
    assert [t.rule.id for t in index.on_tick("INFY", 100.0, T0)] == [1]


def test_once_rule_leaves_the_index_and_repeating_fires_again_after_crossing_back():
    index = PriceIndex(
        [rule(1, ABOVE, 100.0, PriceRepeat.ONCE), rule(2, ABOVE, 100.0, PriceRepeat.REPEATING)]
    )
    index.on_tick("INFY", 99.0, T0)
    assert {t.rule.id for t in index.on_tick("INFY", 101.0, T0)} == {1, 2}
    assert 1 not in index and 2 in index
    assert index.on_tick("INFY", 102.0, T0) == []
    index.on_tick("INFY", 98.0, T0)
    assert [t.rule.id for t in index.on_tick("INFY", 100.5, T0)] == [2]


def test_move_within_window_triggers_and_old_prices_leave_the_window():
    move = PriceRule(
        1, 1, "INFY", MOVES, percent=2.0, window_minutes=5, repeat=PriceRepeat.REPEATING
    )
    index = PriceIndex([move])
    index.on_tick("INFY", 100.0, T0)
    # 2% above a price six minutes old: out of the window, nothing.
    index.on_tick("INFY", 101.0, T0 + timedelta(minutes=4))
    assert index.on_tick("INFY", 102.0, T0 + timedelta(minutes=6)) == []
    fired = index.on_tick("INFY", 99.9, T0 + timedelta(minutes=7))
    assert [t.rule.id for t in fired] == [1]  # 2.06% down from the window's high (102)
    # Muted for its window after it fired.
    assert index.on_tick("INFY", 99.0, T0 + timedelta(minutes=8)) == []


def test_ticks_of_other_symbols_cost_nothing():
    index = PriceIndex([rule(1, ABOVE, 100.0, PriceRepeat.ONCE)])
    assert index.on_tick("TCS", 1.0, T0) == []
    assert index.on_tick("TCS", 1000.0, T0) == []


def naive_moves(rules: list[PriceRule], ticks: list[tuple[int, float]]) -> list[tuple[int, int]]:
    """(tick index, rule id) of every move trigger, from each window's prices scanned in full."""
    alive = {r.id: r for r in rules}
    muted: dict[int, int] = {}
    out = []
    for i, (second, price) in enumerate(ticks):
        fired = []
        for minutes in sorted({r.window_minutes for r in alive.values() if r.window_minutes}):
            seen = [p for s, p in ticks[: i + 1] if s >= second - minutes * 60]
            low, high = min(seen), max(seen)
            up, down = (price - low) / low * 100, (high - price) / high * 100
            move = up if up >= down else down
            if move == 0:
                continue
            for r in alive.values():
                assert r.percent is not None
                if r.window_minutes != minutes or r.percent > move:
                    continue
                if r.id in muted and second < muted[r.id]:
                    continue
                fired.append(r.id)
                if r.repeat is PriceRepeat.REPEATING:
                    muted[r.id] = second + minutes * 60
        for rid in fired:
            out.append((i, rid))
            if alive[rid].repeat is PriceRepeat.ONCE:
                del alive[rid]
    return sorted(out)


moves_st = st.lists(
    st.tuples(
        st.sampled_from([1, 2, 5]),
        st.sampled_from([0.5, 1.0, 2.0, 3.0, 5.0]),
        st.sampled_from(list(PriceRepeat)),
    ),
    min_size=1,
    max_size=12,
)
ticks_st = st.lists(
    st.tuples(st.integers(1, 40), st.integers(95, 105).map(float)), min_size=1, max_size=80
)


@settings(max_examples=300, deadline=None)
@given(steps=ticks_st, specs=moves_st)
def test_moves_over_several_windows_match_a_scan_of_each_window(steps, specs):
    """Windows of several lengths share one record of the symbol's extremes."""
    rules = [
        PriceRule(i + 1, 1, "INFY", MOVES, percent=pct, window_minutes=minutes, repeat=repeat)
        for i, (minutes, pct, repeat) in enumerate(specs)
    ]
    ticks, second = [], 0
    for gap, price in steps:
        second += gap
        ticks.append((second, price))
    index = PriceIndex(rules)
    got = []
    for i, (s, price) in enumerate(ticks):
        for trigger in index.on_tick("INFY", price, T0 + timedelta(seconds=s)):
            got.append((i, trigger.rule.id))
    assert sorted(got) == naive_moves(rules, ticks)


def test_a_long_run_of_ticks_drops_expired_extremes_and_still_matches_the_scan():
    import random

    rng = random.Random(7)
    price, ticks = 100.0, []
    for i in range(1500):  # a falling then rising walk: long runs of suffix minima to expire
        price = round(price * (1 + rng.gauss(-0.0004 if i < 750 else 0.0004, 0.002)), 2)
        ticks.append((i * 3, price))
    rules = [
        PriceRule(1, 1, "INFY", MOVES, percent=1.0, window_minutes=1, repeat=PriceRepeat.REPEATING),
        PriceRule(2, 1, "INFY", MOVES, percent=2.0, window_minutes=5, repeat=PriceRepeat.REPEATING),
    ]
    index = PriceIndex(rules)
    got = [
        (i, t.rule.id)
        for i, (s, p) in enumerate(ticks)
        for t in index.on_tick("INFY", p, T0 + timedelta(seconds=s))
    ]
    assert got and sorted(got) == naive_moves(rules, ticks)
