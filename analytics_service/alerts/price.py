"""Price alerts on live ticks: an index by symbol that costs a tick O(log n).

Pure: no database, no bus. Per symbol, crossing thresholds are kept sorted, so a tick
that moves the price from ``p0`` to ``p1`` finds the thresholds between them by
bisection. Moves share one record per symbol of its suffix minima and maxima over its
longest window (amortised O(1) a tick); each window length reads its low and high from
it by bisection, and keeps its rules' percentages sorted, so the rules a move reaches
are a prefix found by bisection.

Semantics (docs/alerts.md): "crosses above P" triggers on the first tick at or above P
after one below it; "crosses below P" the mirror; the first tick of a symbol only sets
its price. "moves X% within N minutes" triggers when the price is X% above the lowest or
below the highest price of the last N minutes. A ``once`` rule leaves the index when it
triggers; a repeating crossing triggers again after the price has crossed back; a
repeating move is muted for its window after it triggers.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from shared.alerts import PriceCondition, PriceRepeat

T = TypeVar("T")


@dataclass(frozen=True)
class PriceRule:
    """One active price alert as the index holds it (prices as floats, like ticks)."""

    id: int
    user_id: int
    symbol: str
    condition: PriceCondition
    price: float | None = None
    percent: float | None = None
    window_minutes: int | None = None
    repeat: PriceRepeat = PriceRepeat.ONCE
    note: str = ""


@dataclass(frozen=True)
class Trigger:
    rule: PriceRule
    price: float
    ts: datetime
    description: str


class _Sorted:
    """Rules sorted by a float key (ties by id)."""

    def __init__(self) -> None:
        self.keys: list[float] = []
        self.rules: list[PriceRule] = []

    def add(self, key: float, rule: PriceRule) -> None:
        i = bisect.bisect_right(self.keys, key)
        self.keys.insert(i, key)
        self.rules.insert(i, rule)

    def remove(self, rule_id: int) -> None:
        for i, rule in enumerate(self.rules):
            if rule.id == rule_id:
                del self.keys[i]
                del self.rules[i]
                return

    def __len__(self) -> int:
        return len(self.keys)


class _Extremes:
    """A symbol's recent suffix minima and maxima, kept for its longest move window.

    The lowest price since any time ``t`` is the first suffix minimum at or after ``t``
    (the highest likewise), so one update a tick (amortised O(1)) serves every window
    length, each read by bisection. Times are Unix seconds: float arithmetic is several
    times cheaper than aware datetimes on every tick. Lists with a head index stand in
    for deques so that they can be bisected.
    """

    def __init__(self, span: float) -> None:
        self.span = span
        self.low_t: list[float] = []
        self.low_p: list[float] = []
        self.high_t: list[float] = []
        self.high_p: list[float] = []
        self.low_head = 0
        self.high_head = 0
        self.latest = float("-inf")

    def add(self, ts: float, price: float) -> None:
        # A late tick counts as of the latest time seen: the lists stay sorted by time.
        ts = self.latest = max(ts, self.latest)
        low_t, low_p, high_t, high_p = self.low_t, self.low_p, self.high_t, self.high_p
        while len(low_p) > self.low_head and low_p[-1] >= price:
            low_p.pop()
            low_t.pop()
        low_t.append(ts)
        low_p.append(price)
        while len(high_p) > self.high_head and high_p[-1] <= price:
            high_p.pop()
            high_t.pop()
        high_t.append(ts)
        high_p.append(price)
        start = ts - self.span
        self.low_head = bisect.bisect_left(low_t, start, self.low_head)
        self.high_head = bisect.bisect_left(high_t, start, self.high_head)
        if self.low_head > COMPACT_AT and self.low_head * 2 > len(low_t):
            del low_t[: self.low_head], low_p[: self.low_head]
            self.low_head = 0
        if self.high_head > COMPACT_AT and self.high_head * 2 > len(high_t):
            del high_t[: self.high_head], high_p[: self.high_head]
            self.high_head = 0

    def since(self, start: float) -> tuple[float, float]:
        """(low, high) of the prices at or after ``start`` (the last price is always in)."""
        low = self.low_p[bisect.bisect_left(self.low_t, start, self.low_head)]
        high = self.high_p[bisect.bisect_left(self.high_t, start, self.high_head)]
        return low, high


COMPACT_AT = 256
"""Expired entries are dropped from the lists once there are this many and they are most."""


@dataclass
class _Symbol:
    last: float | None = None
    above: _Sorted = field(default_factory=_Sorted)
    below: _Sorted = field(default_factory=_Sorted)
    moves: dict[int, _Sorted] = field(default_factory=dict)  # window minutes -> by percent
    extremes: _Extremes | None = None  # as long as the longest window of ``moves``
    muted: dict[int, datetime] = field(default_factory=dict)  # rule id -> muted until

    def empty(self) -> bool:
        return not (len(self.above) or len(self.below) or self.moves)


class PriceIndex:
    """The active price rules of every symbol; ``on_tick`` returns the rules a tick triggers."""

    def __init__(self, rules: Iterable[PriceRule] = ()) -> None:
        self._symbols: dict[str, _Symbol] = {}
        self._rules: dict[int, PriceRule] = {}
        for rule in rules:
            self.add(rule)

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def rules(self) -> list[PriceRule]:
        return list(self._rules.values())

    def add(self, rule: PriceRule) -> None:
        if rule.id in self._rules:
            self.remove(rule.id)
        sym = self._symbols.setdefault(rule.symbol, _Symbol())
        if rule.condition is PriceCondition.CROSSES_ABOVE:
            sym.above.add(_need(rule.price), rule)
        elif rule.condition is PriceCondition.CROSSES_BELOW:
            sym.below.add(_need(rule.price), rule)
        else:
            minutes = int(_need(rule.window_minutes))
            sym.moves.setdefault(minutes, _Sorted()).add(_need(rule.percent), rule)
            _fit_extremes(sym)
        self._rules[rule.id] = rule

    def remove(self, rule_id: int) -> None:
        rule = self._rules.pop(rule_id, None)
        if rule is None:
            return
        sym = self._symbols[rule.symbol]
        if rule.condition is PriceCondition.CROSSES_ABOVE:
            sym.above.remove(rule_id)
        elif rule.condition is PriceCondition.CROSSES_BELOW:
            sym.below.remove(rule_id)
        else:
            minutes = int(_need(rule.window_minutes))
            moves = sym.moves[minutes]
            moves.remove(rule_id)
            if not len(moves):
                del sym.moves[minutes]
                _fit_extremes(sym)
        sym.muted.pop(rule_id, None)
        if sym.empty():
            del self._symbols[rule.symbol]

    def on_tick(self, symbol: str, price: float, ts: datetime) -> list[Trigger]:
        """The rules this tick triggers (``once`` rules are taken out of the index)."""
        sym = self._symbols.get(symbol)
        if sym is None:
            return []
        prev, sym.last = sym.last, price
        fired: list[Trigger] = []
        if prev is not None and prev != price:
            if price > prev and len(sym.above):
                keys = sym.above.keys
                lo, hi = bisect.bisect_right(keys, prev), bisect.bisect_right(keys, price)
                for rule in sym.above.rules[lo:hi]:
                    fired.append(Trigger(rule, price, ts, f"crossed above {rule.price:g}"))
            elif price < prev and len(sym.below):
                keys = sym.below.keys
                lo, hi = bisect.bisect_left(keys, price), bisect.bisect_left(keys, prev)
                for rule in sym.below.rules[lo:hi]:
                    fired.append(Trigger(rule, price, ts, f"crossed below {rule.price:g}"))
        extremes = sym.extremes
        if extremes is not None:
            at = ts.timestamp()
            extremes.add(at, price)
            for minutes, moves in sym.moves.items():
                low, high = extremes.since(at - minutes * 60.0)
                up = (price - low) / low * 100 if low > 0 else 0.0
                down = (high - price) / high * 100 if high > 0 else 0.0
                move, start = (up, low) if up >= down else (-down, high)
                if move == 0:
                    continue
                reach = bisect.bisect_right(moves.keys, abs(move))
                for rule in moves.rules[:reach]:
                    until = sym.muted.get(rule.id)
                    if until is not None and ts < until:
                        continue
                    what = f"moved {move:+.2f}% within {minutes} min (from {start:g})"
                    fired.append(Trigger(rule, price, ts, what))
                    if rule.repeat is PriceRepeat.REPEATING:
                        sym.muted[rule.id] = ts + timedelta(minutes=minutes)
        for trigger in fired:
            if trigger.rule.repeat is PriceRepeat.ONCE:
                self.remove(trigger.rule.id)
        return fired


def _fit_extremes(sym: _Symbol) -> None:
    """Keep the symbol's extremes as long as its longest move window (none without moves)."""
    if not sym.moves:
        sym.extremes = None
        return
    span = max(sym.moves) * 60.0
    if sym.extremes is None:
        sym.extremes = _Extremes(span)
    else:
        sym.extremes.span = span


def _need(value: T | None) -> T:
    if value is None:
        raise ValueError("a price rule lacks a field its condition needs")
    return value
