"""Pure evaluation core: closed candles + subscriptions -> signals and order intents.

Each unique (symbol, timeframe, strategy, canonical parameters) is computed once
per candle and its signals fanned out to every subscriber; each subscriber's
signal is sized with that subscriber's rule and equity. Keys are derived from
the inputs only, so evaluating the same candle again yields the same
``signal_id`` and ``client_order_id`` and the order processor never places a
second order. No Celery, Redis or database here: the task layer passes in a
window provider and the subscriptions.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

import orjson

from shared.contracts import (
    CandleMsg,
    OrderIntent,
    Product,
    Side,
    SignalAction,
    SignalMsg,
    Timeframe,
)
from shared.errors import DomainError
from strategy_workers import indicators as ta
from strategy_workers.sizing import Sizer, build_sizer
from strategy_workers.strategies.base import CandleWindow, Signal, Strategy, to_ns
from strategy_workers.strategies.registry import StrategyRegistry
from strategy_workers.strategies.registry import registry as default_registry

log = logging.getLogger(__name__)

_SIDES = {SignalAction.BUY: Side.BUY, SignalAction.SELL: Side.SELL}
_PRICE_PLACES = 6


class WindowProvider(Protocol):
    """The last ``bars`` closed candles of (symbol, timeframe) that started at or before ``until``.

    ``until`` is the start of the candle being evaluated, so a re-run of an old
    candle sees the history the first run saw. None (or an empty window) when
    there is no history.
    """

    def __call__(
        self, symbol: str, timeframe: Timeframe, bars: int, until: datetime
    ) -> CandleWindow | None: ...


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    """An active subscription as the evaluator needs it (immutable; not hashable)."""

    id: int
    user_id: int
    broker_account_id: int
    strategy: str
    params: Mapping[str, Any]
    symbols: tuple[str, ...]
    timeframe: Timeframe
    sizing_method: str = "fixed_fractional"
    sizing_params: Mapping[str, Any] = field(default_factory=dict)
    capital: Decimal = Decimal(0)
    mode: Literal["paper", "live"] = "paper"
    product: Product = Product.MIS
    # Canonical bytes of the raw settings, computed once: the evaluator's cache keys.
    params_key: bytes = field(init=False, repr=False, compare=False)
    sizing_key: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params_key", _canonical(self.params))
        object.__setattr__(self, "sizing_key", _canonical(self.sizing_params))


@dataclass(frozen=True, slots=True)
class Skipped:
    """A subscription that matched a candle but produced no order, and why."""

    subscription_id: int
    symbol: str
    reason: str
    error: bool = False
    """The subscription failed (bad settings, a strategy or sizing error), as opposed to
    having nothing to do (warming up, a size that rounds to zero): its owner is told."""


@dataclass(slots=True)
class EvaluationResult:
    signals: list[SignalMsg] = field(default_factory=list)
    intents: list[OrderIntent] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    evaluations: int = 0
    """Strategy computations run (one per unique symbol, timeframe, strategy and parameters)."""


def idempotency_key(
    subscription_id: int,
    symbol: str,
    timeframe: Timeframe | str,
    candle_end: Any,
    action: SignalAction | str,
    strategy: str,
    prefix: str = "sg",
) -> str:
    """Short deterministic key (20 characters) for one subscription's signal on one candle.

    The symbol and timeframe are part of it because one subscription trades several symbols.
    """
    end = to_ns(candle_end) if not isinstance(candle_end, int) else candle_end
    raw = f"{subscription_id}|{symbol}|{timeframe}|{end}|{action}|{strategy}".encode()
    return prefix + hashlib.blake2b(raw, digest_size=9).hexdigest()


@dataclass(slots=True)
class _Group:
    """One unique strategy computation and the subscriptions that share it."""

    strategy: Strategy[Any]
    subscribers: list[tuple[SubscriptionSpec, Sizer]] = field(default_factory=list)


@dataclass(slots=True)
class EvaluationPlan:
    """A burst grouped into unique computations, before any window is read."""

    closed: dict[tuple[str, Timeframe], CandleMsg]
    """The newest closed candle of each (symbol, timeframe)."""
    groups: dict[tuple[str, Timeframe], dict[tuple[str, bytes], _Group]]
    bars: dict[tuple[str, Timeframe], int]
    """How many bars (up to and including the closed candle) each market's window needs."""
    result: EvaluationResult
    """Filled in by :meth:`Evaluator.execute`; already lists subscriptions skipped in grouping."""


class Evaluator:
    """Evaluates subscriptions on closed candles; keeps validated strategies and sizers cached."""

    def __init__(
        self,
        windows: WindowProvider | None = None,
        *,
        registry: StrategyRegistry = default_registry,
        equity_for: Callable[[SubscriptionSpec], Decimal] | None = None,
        lot_size_for: Callable[[str], Decimal | int] | None = None,
        cache_size: int = 50_000,
    ) -> None:
        self._windows = windows
        self._registry = registry
        self._equity_for = equity_for or (lambda sub: sub.capital)
        self._lot_size_for = lot_size_for or (lambda symbol: 1)
        self._cache_size = cache_size
        self._strategies: dict[tuple[str, bytes], tuple[Strategy[Any], bytes] | str] = {}
        self._sizers: dict[tuple[str, bytes], Sizer | str] = {}

    def evaluate(
        self, candles: Iterable[CandleMsg], subscriptions: Iterable[SubscriptionSpec]
    ) -> EvaluationResult:
        """Signals and intents for every subscription whose (symbol, timeframe) just closed."""
        return self.execute(self.plan(candles, subscriptions))

    def plan(
        self, candles: Iterable[CandleMsg], subscriptions: Iterable[SubscriptionSpec]
    ) -> EvaluationPlan:
        """The unique computations of a burst and the bars each market's window must hold.

        Callers whose window source is asynchronous fetch ``plan.bars`` first, then
        :meth:`execute` with a provider over what they fetched.
        """
        result = EvaluationResult()
        closed: dict[tuple[str, Timeframe], CandleMsg] = {}
        for candle in candles:
            key = (candle.symbol, candle.timeframe)
            if key not in closed or candle.end > closed[key].end:
                closed[key] = candle
        groups = self._group(closed, subscriptions, result)
        bars = {market: _bars_needed(by_spec) for market, by_spec in groups.items()}
        return EvaluationPlan(closed, groups, bars, result)

    def execute(
        self, plan: EvaluationPlan, windows: WindowProvider | None = None
    ) -> EvaluationResult:
        """Run a plan's computations over ``windows`` (default: the evaluator's provider)."""
        provider = windows or self._windows
        if provider is None:
            raise ValueError("no window provider: pass one to Evaluator() or execute()")
        for market, by_spec in plan.groups.items():
            self._evaluate_market(
                plan.closed[market], by_spec, plan.bars[market], provider, plan.result
            )
        return plan.result

    def _group(
        self,
        closed: Mapping[tuple[str, Timeframe], CandleMsg],
        subscriptions: Iterable[SubscriptionSpec],
        result: EvaluationResult,
    ) -> dict[tuple[str, Timeframe], dict[tuple[str, bytes], _Group]]:
        groups: dict[tuple[str, Timeframe], dict[tuple[str, bytes], _Group]] = {}
        for sub in subscriptions:
            prepared: tuple[Strategy[Any], bytes, Sizer] | str | None = None
            for symbol in sub.symbols:
                market = (symbol, sub.timeframe)
                if market not in closed:
                    continue
                if prepared is None:
                    prepared = self._prepare(sub)
                if isinstance(prepared, str):
                    result.skipped.append(Skipped(sub.id, symbol, prepared, error=True))
                    continue
                strategy, canonical, sizer = prepared
                by_spec = groups.setdefault(market, {})
                group = by_spec.get((sub.strategy, canonical))
                if group is None:
                    group = by_spec[(sub.strategy, canonical)] = _Group(strategy)
                group.subscribers.append((sub, sizer))
        return groups

    def _prepare(self, sub: SubscriptionSpec) -> tuple[Strategy[Any], bytes, Sizer] | str:
        """Validated strategy (with canonical parameters) and sizer, or why they are unusable."""
        key = (sub.strategy, sub.params_key)
        built = self._strategies.get(key)
        if built is None:
            built = self._cache(self._strategies, key, self._build_strategy(sub))
        if isinstance(built, str):
            return built
        strategy, canonical = built
        if sub.timeframe not in strategy.timeframes:
            return f"strategy {sub.strategy!r} does not support timeframe {sub.timeframe}"
        skey = (sub.sizing_method, sub.sizing_key)
        sizer = self._sizers.get(skey)
        if sizer is None:
            try:
                sizer = self._cache(
                    self._sizers, skey, build_sizer(sub.sizing_method, sub.sizing_params)
                )
            except DomainError as exc:
                sizer = self._cache(self._sizers, skey, exc.message)
        if isinstance(sizer, str):
            return sizer
        return strategy, canonical, sizer

    def _build_strategy(self, sub: SubscriptionSpec) -> tuple[Strategy[Any], bytes] | str:
        try:
            params = self._registry.validate_params(sub.strategy, sub.params)
            strategy = self._registry.get(sub.strategy)(params)
        except DomainError as exc:
            return exc.message
        # Canonical form after defaults are applied: {} and {"fast": 10} are the same spec.
        return strategy, _canonical(params.model_dump(mode="json"))

    def _cache(self, cache: dict[Any, Any], key: Any, value: Any) -> Any:
        if len(cache) >= self._cache_size:
            cache.clear()  # subscriptions changed wholesale; rebuild rather than grow
        cache[key] = value
        return value

    def _evaluate_market(
        self,
        candle: CandleMsg,
        by_spec: Mapping[tuple[str, bytes], _Group],
        bars: int,
        windows: WindowProvider,
        result: EvaluationResult,
    ) -> None:
        history = windows(candle.symbol, candle.timeframe, bars, candle.start)
        window = CandleWindow.ending_with(history, candle)
        atr_cache: dict[int, Decimal | None] = {}
        for (name, _), group in by_spec.items():
            strategy = group.strategy
            if len(window) < strategy.warmup:
                reason = f"warming up: {len(window)} of {strategy.warmup} bars"
                result.skipped.extend(
                    Skipped(sub.id, candle.symbol, reason) for sub, _ in group.subscribers
                )
                continue
            result.evaluations += 1
            try:
                signals = strategy.evaluate(window.tail(strategy.warmup))
            except Exception as exc:
                # One faulty strategy must not stop the others evaluating on this candle.
                log.exception("strategy %s failed on %s %s", name, candle.symbol, candle.timeframe)
                reason = f"strategy error: {type(exc).__name__}: {exc}"
                result.skipped.extend(
                    Skipped(sub.id, candle.symbol, reason, error=True)
                    for sub, _ in group.subscribers
                )
                continue
            for signal in signals:
                for sub, sizer in group.subscribers:
                    atr = None
                    if sizer.atr_period is not None:
                        if sizer.atr_period not in atr_cache:
                            atr_cache[sizer.atr_period] = _last_atr(window, sizer.atr_period)
                        atr = atr_cache[sizer.atr_period]
                    try:
                        self._emit(candle, name, signal, sub, sizer, atr, result)
                    except Exception as exc:
                        # e.g. an equity or lot-size lookup failing for one account
                        log.exception("cannot emit %s for subscription %s", name, sub.id)
                        reason = f"emit error: {type(exc).__name__}: {exc}"
                        result.skipped.append(Skipped(sub.id, candle.symbol, reason, error=True))

    def _emit(
        self,
        candle: CandleMsg,
        strategy: str,
        signal: Signal,
        sub: SubscriptionSpec,
        sizer: Sizer,
        atr: Decimal | None,
        result: EvaluationResult,
    ) -> None:
        args = (sub.id, candle.symbol, candle.timeframe, candle.end, signal.action, strategy)
        signal_id = idempotency_key(*args, prefix="sig")  # also the order's correlation id
        result.signals.append(
            SignalMsg(
                signal_id=signal_id,
                user_id=sub.user_id,
                subscription_id=sub.id,
                strategy=strategy,
                symbol=candle.symbol,
                timeframe=candle.timeframe,
                candle_end=candle.end,
                action=signal.action,
                confidence=signal.confidence,
                price=candle.close,
                stop=_finite(signal.stop),
                target=_finite(signal.target),
                reason=signal.reason,
            )
        )
        key = idempotency_key(*args)
        if signal.action is SignalAction.EXIT:
            # A typed exit: the order processor sizes it from the position under the
            # account lock (a position read here could be stale by then).
            result.intents.append(
                OrderIntent(
                    client_order_id=key,
                    user_id=sub.user_id,
                    broker_account_id=sub.broker_account_id,
                    symbol=candle.symbol,
                    product=sub.product,
                    subscription_id=sub.id,
                    algo_tag=strategy,
                    created_at=candle.end,
                    purpose="close",
                    correlation_id=signal_id,
                )
            )
            return
        stop, target = _price(signal.stop), _price(signal.target)
        side = _SIDES[signal.action]
        entry = _price(candle.close)
        assert entry is not None
        sized = sizer.size(
            self._equity_for(sub),
            entry,
            stop,
            side,
            lot_size=self._lot_size_for(candle.symbol),
            atr=atr,
        )
        if not sized.ok:
            result.skipped.append(Skipped(sub.id, candle.symbol, sized.reason))
            return
        result.intents.append(
            OrderIntent(
                client_order_id=key,
                user_id=sub.user_id,
                broker_account_id=sub.broker_account_id,
                symbol=candle.symbol,
                side=side,
                quantity=sized.quantity,
                product=sub.product,
                subscription_id=sub.id,
                algo_tag=strategy,
                stop=stop,
                target=target,
                created_at=candle.end,
                correlation_id=signal_id,
            )
        )


def evaluate_candles(
    candles: Iterable[CandleMsg],
    subscriptions: Iterable[SubscriptionSpec],
    windows: WindowProvider,
    **options: Any,
) -> EvaluationResult:
    """One-shot :meth:`Evaluator.evaluate` (no cache kept between calls)."""
    return Evaluator(windows, **options).evaluate(candles, subscriptions)


def _atr_bars(period: int) -> int:
    return 5 * period


def _bars_needed(by_spec: Mapping[tuple[str, bytes], _Group]) -> int:
    """The longest window a market's computations (and ATR-based sizers) read."""
    atr_periods = {s.atr_period for g in by_spec.values() for _, s in g.subscribers} - {None}
    return max(
        [g.strategy.warmup for g in by_spec.values()] + [_atr_bars(p) for p in atr_periods if p]
    )


def _last_atr(window: CandleWindow, period: int) -> Decimal | None:
    w = window.tail(_atr_bars(period))
    return _price(float(ta.atr(w.high, w.low, w.close, period)[-1]))


def _price(value: float | None) -> Decimal | None:
    """Float from the indicator world into a Decimal price (finite values only)."""
    if value is None or not math.isfinite(value):
        return None
    return Decimal(repr(round(float(value), _PRICE_PLACES)))


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _canonical(mapping: Mapping[str, Any]) -> bytes:
    return orjson.dumps(dict(mapping), option=orjson.OPT_SORT_KEYS, default=str)
