"""Evaluation core: dedup of identical specs, fan-out, sizing, and idempotency keys."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Literal

import numpy as np
import pytest
from pydantic import Field

from shared.contracts import Product, Side, SignalAction, Timeframe
from strategy_workers import indicators as ta
from strategy_workers.evaluation import (
    Evaluator,
    SubscriptionSpec,
    evaluate_candles,
)
from strategy_workers.sizing import fixed_fractional, volatility_adjusted
from strategy_workers.strategies import (
    CandleWindow,
    Signal,
    Strategy,
    StrategyParams,
    StrategyRegistry,
    build_strategy,
)

from .paths import WindowStore, candle_at, signals_by_bar, v_shape, window

CAPITAL = Decimal("500000")


class ProbeParams(StrategyParams):
    action: Literal["BUY", "SELL", "EXIT"] = "BUY"
    bars: int = Field(3, ge=1, le=500)
    fail: bool = False


class Probe(Strategy[ProbeParams]):
    """Says ``action`` on every bar with a 2% stop, and records every window it sees."""

    name = "probe"
    description = "Test strategy that always speaks."
    params_model = ProbeParams
    timeframes = frozenset({Timeframe.M5})
    seen: ClassVar[list[tuple[str, int]]] = []

    @property
    def warmup(self) -> int:
        return self.params.bars

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        Probe.seen.append((window.symbol, len(window)))
        if self.params.fail:
            raise RuntimeError("indicator blew up")
        action = SignalAction(self.params.action)
        price = float(window.close[-1])
        if action is SignalAction.EXIT:
            return [Signal(action, 1.0, reason="probe exit")]
        sign = 1 if action is SignalAction.BUY else -1
        return [Signal(action, 0.8, price * (1 - sign * 0.02), price * (1 + sign * 0.06), "probe")]


@pytest.fixture
def registry() -> StrategyRegistry:
    Probe.seen = []
    reg = StrategyRegistry(package=None, entry_point_group=None)
    reg.register(Probe)
    return reg


def sub(
    sub_id: int,
    *,
    strategy: str = "probe",
    params: dict[str, Any] | None = None,
    symbols: tuple[str, ...] = ("INFY",),
    timeframe: Timeframe = Timeframe.M5,
    capital: Decimal = CAPITAL,
    **extra: Any,
) -> SubscriptionSpec:
    return SubscriptionSpec(
        id=sub_id,
        user_id=100 + sub_id,
        broker_account_id=200 + sub_id,
        strategy=strategy,
        params=params or {},
        symbols=symbols,
        timeframe=timeframe,
        capital=capital,
        **extra,
    )


@pytest.fixture
def market() -> tuple[WindowStore, CandleWindow]:
    w = window(100 + np.sin(np.arange(50) * 0.5))
    return WindowStore(w), w


def test_identical_specs_are_computed_once_and_fanned_out(registry, market):
    store, w = market
    subs = [sub(1), sub(2, params={"bars": 3})]  # explicit default == omitted default

    result = Evaluator(store, registry=registry).evaluate([candle_at(w, -1)], subs)

    assert len(Probe.seen) == 1
    assert result.evaluations == 1
    assert [i.user_id for i in result.intents] == [101, 102]
    assert [i.broker_account_id for i in result.intents] == [201, 202]
    assert len({i.client_order_id for i in result.intents}) == 2


def test_different_parameters_are_computed_separately(registry, market):
    store, w = market

    result = Evaluator(store, registry=registry).evaluate(
        [candle_at(w, -1)], [sub(1), sub(2, params={"bars": 4})]
    )

    assert result.evaluations == 2
    assert sorted(n for _, n in Probe.seen) == [3, 4]


def test_real_strategy_dedup_gives_two_intents_with_distinct_keys():
    w = window(v_shape())
    cross = next(iter(signals_by_bar(build_strategy("ma_crossover"), w)))
    subs = [sub(1, strategy="ma_crossover"), sub(2, strategy="ma_crossover", params={"slow": 30})]

    result = evaluate_candles([candle_at(w, cross)], subs, WindowStore(w))

    assert result.evaluations == 1
    assert [i.side for i in result.intents] == [Side.BUY, Side.BUY]
    assert result.intents[0].client_order_id != result.intents[1].client_order_id


def test_rerunning_the_same_candle_gives_identical_keys(registry, market):
    store, w = market
    subs = [sub(1), sub(2)]
    candle = candle_at(w, -1)

    first = Evaluator(store, registry=registry).evaluate([candle], subs)
    again = Evaluator(store, registry=registry).evaluate([candle], subs)

    assert [i.client_order_id for i in again.intents] == [i.client_order_id for i in first.intents]
    assert [s.signal_id for s in again.signals] == [s.signal_id for s in first.signals]
    assert again.intents == first.intents


def test_rerun_after_later_candles_arrived_sees_the_original_window():
    w = window(v_shape())
    cross = next(iter(signals_by_bar(build_strategy("ma_crossover"), w)))
    candle = candle_at(w, cross)
    subs = [sub(1, strategy="ma_crossover")]

    live = evaluate_candles([candle], subs, WindowStore(w.until(int(w.ts[cross]))))
    replay = evaluate_candles([candle], subs, WindowStore(w))

    assert replay.intents == live.intents
    assert len(live.intents) == 1


def test_a_candle_the_store_has_not_written_yet_is_appended():
    w = window(v_shape())
    cross = next(iter(signals_by_bar(build_strategy("ma_crossover"), w)))
    lagging = WindowStore(w.until(int(w.ts[cross - 1])))

    result = evaluate_candles([candle_at(w, cross)], [sub(1, strategy="ma_crossover")], lagging)

    assert [i.side for i in result.intents] == [Side.BUY]


def test_only_subscriptions_on_the_closed_market_are_evaluated(registry, market):
    store, w = market
    subs = [sub(1), sub(2, symbols=("TCS",)), sub(3, timeframe=Timeframe.M15)]

    result = Evaluator(store, registry=registry).evaluate([candle_at(w, -1)], subs)

    assert [i.subscription_id for i in result.intents] == [1]


def test_each_symbol_of_a_subscription_gets_its_own_key(registry):
    a, b = (
        window(np.linspace(100, 110, 20), symbol="INFY"),
        window(np.linspace(100, 110, 20), symbol="TCS"),
    )

    result = Evaluator(WindowStore(a, b), registry=registry).evaluate(
        [candle_at(a, -1), candle_at(b, -1)], [sub(1, symbols=("INFY", "TCS"))]
    )

    assert sorted(i.symbol for i in result.intents) == ["INFY", "TCS"]
    assert len({i.client_order_id for i in result.intents}) == 2


def test_buy_is_sized_by_the_subscription_rule_from_the_signal_stop(registry, market):
    store, w = market
    candle = candle_at(w, -1)

    (intent,) = Evaluator(store, registry=registry).evaluate([candle], [sub(1)]).intents

    entry = Decimal(repr(candle.close))
    expected = fixed_fractional(CAPITAL, entry, intent.stop, Side.BUY)
    assert intent.quantity == expected.quantity > 0
    assert intent.stop < entry < intent.target
    assert intent.created_at == candle.end
    assert intent.algo_tag == "probe"


def test_lot_size_and_equity_come_from_the_callables(registry, market):
    store, w = market
    evaluator = Evaluator(
        store,
        registry=registry,
        equity_for=lambda s: Decimal("2000000"),
        lot_size_for=lambda symbol: 400,
    )

    (intent,) = evaluator.evaluate([candle_at(w, -1)], [sub(1, capital=Decimal(1))]).intents

    assert intent.quantity > 0
    assert intent.quantity % 400 == 0


def test_sell_signal_becomes_a_sell_intent(registry, market):
    store, w = market

    result = Evaluator(store, registry=registry).evaluate(
        [candle_at(w, -1)], [sub(1, params={"action": "SELL"})]
    )

    assert [i.side for i in result.intents] == [Side.SELL]


def test_exit_signal_becomes_a_typed_close_intent_the_worker_does_not_size(registry, market):
    store, w = market

    result = Evaluator(store, registry=registry).evaluate(
        [candle_at(w, -1)], [sub(1, params={"action": "EXIT"})]
    )

    (intent,) = result.intents
    assert intent.purpose == "close"
    assert (intent.side, intent.quantity) == (None, None)
    assert (intent.symbol, intent.product, intent.algo_tag) == ("INFY", Product.MIS, "probe")
    assert (intent.user_id, intent.broker_account_id) == (101, 201)
    assert result.signals[0].action is SignalAction.EXIT


def test_buy_and_sell_signals_stay_open_intents(registry, market):
    store, w = market

    result = Evaluator(store, registry=registry).evaluate(
        [candle_at(w, -1)], [sub(1, params={"action": "SELL"}), sub(2, params={"action": "BUY"})]
    )

    assert [(i.purpose, i.side) for i in result.intents] == [
        ("open", Side.SELL),
        ("open", Side.BUY),
    ]


def test_unsizable_signal_is_published_without_an_intent(registry, market):
    store, w = market

    result = Evaluator(store, registry=registry).evaluate(
        [candle_at(w, -1)], [sub(1, capital=Decimal(0))]
    )

    assert len(result.signals) == 1
    assert result.intents == []
    assert result.skipped[0].reason == "no equity to risk"


def test_volatility_sizing_uses_the_atr_of_the_window(registry, market):
    store, w = market
    spec = sub(1, sizing_method="volatility", sizing_params={"atr_period": 10})

    (intent,) = Evaluator(store, registry=registry).evaluate([candle_at(w, -1)], [spec]).intents

    tail = w.tail(50)
    atr = Decimal(repr(round(float(ta.atr(tail.high, tail.low, tail.close, 10)[-1]), 6)))
    entry = Decimal(repr(float(w.close[-1])))
    assert intent.quantity == volatility_adjusted(CAPITAL, entry, atr).quantity


def test_invalid_subscription_is_skipped_and_the_rest_still_run(registry, market):
    store, w = market

    result = Evaluator(store, registry=registry).evaluate(
        [candle_at(w, -1)], [sub(1, params={"bars": 0}), sub(2)]
    )

    assert [i.subscription_id for i in result.intents] == [2]
    assert result.skipped[0].subscription_id == 1
    assert "params.bars" in result.skipped[0].reason


def test_invalid_sizing_is_skipped_with_the_field_named(registry, market):
    store, w = market

    result = Evaluator(store, registry=registry).evaluate(
        [candle_at(w, -1)], [sub(1, sizing_params={"risk_fraction": 5})]
    )

    assert result.intents == []
    assert "sizing_params.risk_fraction" in result.skipped[0].reason


def test_a_failing_strategy_does_not_stop_the_others(registry, market):
    store, w = market

    result = Evaluator(store, registry=registry).evaluate(
        [candle_at(w, -1)], [sub(1, params={"fail": True}), sub(2)]
    )

    assert [i.subscription_id for i in result.intents] == [2]
    assert "indicator blew up" in result.skipped[0].reason


def test_too_little_history_is_reported_as_warming_up(registry):
    w = window(np.linspace(100, 101, 5))

    result = Evaluator(WindowStore(w), registry=registry).evaluate(
        [candle_at(w, -1)], [sub(1, params={"bars": 20})]
    )

    assert result.intents == []
    assert result.skipped[0].reason.startswith("warming up")


def test_unsupported_timeframe_is_skipped(registry):
    w = window(np.linspace(100, 101, 10), timeframe=Timeframe.D1)

    result = Evaluator(WindowStore(w), registry=registry).evaluate(
        [candle_at(w, -1)], [sub(1, timeframe=Timeframe.D1)]
    )

    assert "does not support" in result.skipped[0].reason


def test_a_burst_of_many_symbols_computes_each_unique_spec_once(registry):
    symbols = [f"S{i:03d}" for i in range(300)]
    windows = [
        window(100 + np.sin(np.arange(40) * 0.3 + i), symbol=s) for i, s in enumerate(symbols)
    ]
    subs = [
        sub(1, symbols=tuple(symbols)),
        sub(2, symbols=tuple(symbols)),
        sub(3, symbols=tuple(symbols), params={"bars": 10}),
    ]

    result = Evaluator(WindowStore(*windows), registry=registry).evaluate(
        [candle_at(w, -1) for w in windows], subs
    )

    assert result.evaluations == 2 * len(symbols)
    assert len(result.intents) == 3 * len(symbols)
    assert len({i.client_order_id for i in result.intents}) == len(result.intents)


def test_a_failing_lookup_for_one_symbol_does_not_stop_the_others(registry):
    a, b = (
        window(np.linspace(100, 110, 20), symbol="INFY"),
        window(np.linspace(100, 110, 20), symbol="TCS"),
    )

    def lot_size_for(symbol: str) -> int:
        if symbol == "TCS":
            raise LookupError("no instrument master row for TCS")
        return 1

    result = Evaluator(WindowStore(a, b), registry=registry, lot_size_for=lot_size_for).evaluate(
        [candle_at(a, -1), candle_at(b, -1)], [sub(1, symbols=("INFY", "TCS"))]
    )

    assert [i.symbol for i in result.intents] == ["INFY"]
    assert "no instrument master row" in result.skipped[0].reason


def test_each_intent_carries_its_signal_id_as_correlation_id(registry, market):
    store, w = market
    result = Evaluator(store, registry=registry).evaluate([candle_at(w, -1)], [sub(1), sub(2)])

    by_subscription = {s.subscription_id: s.signal_id for s in result.signals}
    assert len(result.intents) == 2
    for intent in result.intents:
        assert intent.correlation_id == by_subscription[intent.subscription_id]
