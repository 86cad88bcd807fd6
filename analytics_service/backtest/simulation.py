"""One run's account, orders and trades, on the order processor's rules.

The order processor's rules turn each intent into an order (a signal against the position
closes it), the risk chain decides it, the paper broker's fill model prices its fill (or its
matcher, on replayed ticks), and the account model books it with the live charges.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from order_processor.domain.account import Account
from order_processor.domain.charges import FeeModel, NoCharges, charges_for_fill
from order_processor.domain.closing import WorkingQuantity, closing_order, opposes
from order_processor.domain.fills import Fill
from order_processor.domain.money import ZERO, to_decimal
from order_processor.domain.orders import Order, validate_order
from order_processor.domain.paper import OrderFilled, OrderRejected, PaperMatcher
from order_processor.domain.paper.fill_model import FillModel
from order_processor.domain.risk import (
    AccountView,
    PositionView,
    RiskChain,
    WorkingOrderView,
    build_chain,
)
from shared.contracts import OrderIntent, OrderStatus, Side
from shared.instruments import Instrument
from strategy_workers.evaluation import Skipped

from .data import Bars, Ticks, from_ns, to_ns
from .results import BacktestRun, FillRecord, Identity, Trade
from .settings import BacktestRequest, Direction, FillAt

EXIT_TAG_PREFIX = "exit:"  # how the order processor tags an order it turned into an exit
RATE_WINDOW = timedelta(seconds=2)

S = OrderStatus


class Simulation:
    """One run's account, orders and trades: ``advance`` to a bar (fills, stops), ``decide``
    on its close, ``finish`` at the end of the data."""

    def __init__(
        self,
        request: BacktestRequest,
        bars: Bars,
        instrument: Instrument,
        fee_model: FeeModel,
        identity: Identity,
        ticks: Ticks | None = None,
        fine: Bars | None = None,
    ) -> None:
        self.request = request
        self.ticks = ticks
        self.fine = fine if request.settings.stops else None
        """Finer candles of the same symbol, replayed inside a bar that reaches a stop or a
        target to tell which came first."""
        self.settings = s = request.settings
        self.bars = bars
        self.instrument = instrument
        self.calendar = instrument.calendar()
        self.fee_model: FeeModel = fee_model if s.charges else NoCharges()
        self.fill_model = FillModel(slippage_bps=s.slippage_bps)
        self.slip = instrument.tick_size * s.slippage_ticks
        self.identity = identity
        self.chain: RiskChain | None = build_chain(s.risk) if s.risk is not None else None
        self.account = Account(s.capital)
        self.run = BacktestRun(
            request,
            bars,
            instrument,
            fee_model=type(self.fee_model).__name__,
            fine_timeframe=self.fine.timeframe if self.fine is not None else None,
        )
        self.pending: list[Order] = []
        self.matcher = (
            PaperMatcher(lambda symbol: instrument, self.fill_model) if ticks is not None else None
        )
        self.tick_cursor = 0
        self.pending_bar = -1
        self.watch_from = -1  # first bar a stop or target may hit, -1: none watched
        self.watched: Order | None = None  # the entry whose stop and target are watched
        self.trade: Trade | None = None
        self.recent: list[datetime] = []
        self.events: list[tuple[int, Decimal, Decimal]] = []  # (bar, cash, quantity) after fills

    # -- time -----------------------------------------------------------------------

    def advance(self, i: int) -> None:
        """Everything that happens before bar ``i``'s close: the pending fill at an open,
        then stops and targets touched up to and including bar ``i``."""
        if self.ticks is not None:
            self._tick_fills(i)
        elif self.pending and self.pending_bar + 1 <= i:
            k = self.pending_bar + 1
            orders, self.pending = self.pending, []
            for order in orders:
                self._fill(order, self.bars.open[k], self.bars.time(k), k, "signal")
        if self.watch_from >= 0 and self.watch_from <= i:
            self._check_stops(i)

    def _tick_fills(self, i: int) -> None:
        """Replayed ticks go to the paper broker's matcher while an order works there, up to
        the tick that closes bar ``i`` (it reaches the broker before the candle's decision,
        as live): fills, and expiries at the session's end or the MIS square-off."""
        assert self.ticks is not None and self.matcher is not None
        horizon = self._closing_tick(i)
        stop = horizon + 1 if horizon is not None else len(self.ticks)
        ts, price, qty = self.ticks.ts, self.ticks.price, self.ticks.qty
        j = self.tick_cursor
        while len(self.matcher) and j < stop:
            when = from_ns(int(ts[j]))
            for event in self.matcher.on_tick(
                self.bars.symbol, when, float(price[j]), float(qty[j])
            ):
                k = int(np.searchsorted(self.bars.ts, int(ts[j]), side="right")) - 1
                if isinstance(event, OrderFilled):
                    self._book(event.order, event.fill, k, "signal")
                elif event.order.is_terminal:
                    self.run.orders.append(event.order)
            j += 1
        self.tick_cursor = max(self.tick_cursor, j)
        self.pending = self.matcher.working(self.bars.symbol)

    def _closing_tick(self, i: int) -> int | None:
        """Index of the first tick at or after bar ``i``'s end: the one that closes it."""
        assert self.ticks is not None
        end = int(self.bars.ts[i]) + self.bars.step_ns
        j = int(np.searchsorted(self.ticks.ts, end, side="left"))
        return j if j < len(self.ticks) else None

    def decision_time(self, i: int) -> datetime | None:
        """When bar ``i``'s close is acted on: its end, or the tick that closes it (None:
        the ticks end before it closes)."""
        if self.ticks is None:
            return self.bars.end(i)
        j = self._closing_tick(i)
        return from_ns(int(self.ticks.ts[j])) if j is not None else None

    def finish(self, *, flatten: bool = False) -> None:
        """The end of the data: a pending order is left unfilled; stops up to the last bar.
        With ``flatten`` a position still open is closed at the last bar's close (the end of
        a walk-forward fold: the next fold starts flat)."""
        last = len(self.bars) - 1
        self.advance(last)
        # Decided on the last bar's close, never filled: no bar after it.
        self.run.orders.extend(self.pending)
        self.pending = []
        if flatten and self.trade is not None:
            self._close_at_end(self.trade, last)
        if self.trade is not None:
            self._excursions(self.trade, last)
            self.run.trades.append(self.trade)
        self.run.equity = self._curve()
        close = to_decimal(float(self.bars.close[last]))
        self.run.final_equity = self.account.equity({self.bars.symbol: close})

    def _close_at_end(self, trade: Trade, last: int) -> None:
        held = self.account.positions.get(trade.symbol, self.settings.product).quantity
        if not held:
            return
        when = self.bars.end(last)
        order = Order(
            user_id=self.identity.user_id,
            broker_account_id=self.identity.broker_account_id,
            client_order_id=f"end-{self.identity.subscription_id}-{to_ns(when)}",
            symbol=trade.symbol,
            side=Side.SELL if held > 0 else Side.BUY,
            quantity=abs(held),
            created_at=when,
            product=self.settings.product,
            origin="system",
            subscription_id=self.identity.subscription_id,
            algo_tag="end",
        ).with_status(S.SUBMITTED, when)
        self._fill(order, self.bars.close[last], when, last, "end")

    # -- decisions ------------------------------------------------------------------

    def decide(self, i: int, intents: Iterable[OrderIntent], now: datetime) -> None:
        """The order processor's decision at ``now`` on each intent of bar ``i``'s close."""
        for intent in intents:
            order = self._order(intent, now, i)
            if order is None:
                continue
            if order.status is S.SUBMITTED:
                self.recent.append(now)
                if self.matcher is not None and self.ticks is not None:
                    events = self.matcher.submit(order, now)
                    if isinstance(events[0], OrderRejected):
                        self.run.orders.append(events[0].order)
                    # Ticks after the decision only (the one that closed the bar never fills).
                    after = int(np.searchsorted(self.ticks.ts, to_ns(now), side="right"))
                    self.tick_cursor = max(self.tick_cursor, after)
                    self.pending = self.matcher.working(self.bars.symbol)
                elif self.settings.fill is FillAt.CLOSE:
                    self._fill(order, self.bars.close[i], now, i, "signal")
                else:
                    self.pending.append(order)
                    self.pending_bar = i
            else:
                self.run.orders.append(order)

    def _order(self, intent: OrderIntent, now: datetime, i: int) -> Order | None:
        held = self.account.positions.get(intent.symbol, intent.product).quantity
        # Orders decided and not filled yet are working: exits net of them, as live.
        working = [
            WorkingQuantity(w.side, w.remaining_quantity)
            for w in self.pending
            if w.symbol == intent.symbol and w.product is intent.product
        ]
        side, quantity, tag = intent.side or Side.SELL, intent.quantity or ZERO, intent.algo_tag
        closing = intent.purpose == "close" or (
            intent.side is not None and opposes(held, intent.side)
        )
        denial = None
        if closing:
            close = closing_order(
                held, working, intent.quantity if intent.purpose == "close" else None
            )
            if close is None:
                denial = ("nothing_to_exit", "no position to exit")
            else:
                side, quantity = close.side, close.quantity
                tag = (EXIT_TAG_PREFIX + (intent.algo_tag or intent.origin))[:64]
        elif self.settings.direction is Direction.LONG_ONLY and side is Side.SELL:
            self.run.skipped.append(
                Skipped(intent.subscription_id or 0, intent.symbol, "long-only: no short opened")
            )
            return None
        order = Order(
            user_id=intent.user_id,
            broker_account_id=intent.broker_account_id,
            client_order_id=intent.client_order_id,
            symbol=intent.symbol,
            side=side,
            quantity=quantity,
            created_at=intent.created_at,
            updated_at=intent.created_at,
            order_type=intent.order_type,
            product=intent.product,
            validity=intent.validity,
            origin=intent.origin,
            subscription_id=intent.subscription_id,
            algo_tag=tag,
            stop=intent.stop,
            target=intent.target,
        )
        if denial is not None:
            return self._deny(order, now, *denial)
        errors = validate_order(order, self.instrument)
        if errors:
            return self._deny(order, now, errors[0].code, errors[0].message)
        if self.chain is not None:
            result = self.chain.evaluate(order, self._view(order, now, i))
            if result.denial is not None:
                return self._deny(order, now, result.denial.code, result.denial.message)
        return order.with_status(S.SUBMITTED, now)

    def _deny(self, order: Order, now: datetime, code: str, message: str) -> Order:
        return order.with_status(S.DENIED, now, reason_code=code, reason=message)

    def _view(self, order: Order, now: datetime, i: int) -> AccountView:
        last = self.bars.close[i]
        if self.ticks is not None:  # the last price live knows: the tick that closed the bar
            last = self.ticks.price[int(np.searchsorted(self.ticks.ts, to_ns(now), "right")) - 1]
        mark = to_decimal(float(last))
        marks = {order.symbol: mark}
        equity = self.account.equity(marks)
        positions = {}
        qty = self.account.positions.net_quantity(order.symbol)
        if qty:
            cost = sum(
                (
                    p.cost
                    for p in self.account.positions.open_positions()
                    if p.symbol == order.symbol
                ),
                ZERO,
            )
            positions[order.symbol] = PositionView(
                order.symbol, qty, cost / qty, self.instrument.sector or None
            )
        self.recent = [t for t in self.recent if t > now - RATE_WINDOW]
        return AccountView(
            now=now,
            equity=equity,
            cash=self.account.cash,
            start_of_day_equity=self.account.start_of_day(now),
            start_of_week_equity=self.account.start_of_week(now),
            peak_equity=self.account.peak(equity),
            instrument=self.instrument,
            calendar=self.calendar,
            positions=positions,
            working_orders=[WorkingOrderView.of(w) for w in self.pending],
            last_price=marks.get,
            recent_order_times=tuple(self.recent),
        )

    # -- fills ----------------------------------------------------------------------

    def _market_price(self, side: Side, price: float) -> Decimal:
        fill = self.fill_model.market_price(
            side, to_decimal(float(price)), self.instrument.tick_size
        )
        if self.slip:
            fill = fill + self.slip if side is Side.BUY else max(fill - self.slip, self.slip)
        return fill

    def _fill(
        self, order: Order, base: float, ts: datetime, bar: int, reason: str, *, exact: bool = False
    ) -> None:
        price = to_decimal(float(base)) if exact else self._market_price(order.side, base)
        # A market order fills in full on its first price: SUBMITTED -> FILLED, as at the broker.
        filled = order.with_fill(order.quantity, price, ts)
        fill = Fill(
            user_id=order.user_id,
            client_order_id=order.client_order_id,
            seq=filled.fill_count,
            symbol=order.symbol,
            side=order.side,
            product=order.product,
            quantity=order.quantity,
            price=price,
            ts=ts,
        )
        self._book(filled, fill, bar, reason)

    def _book(self, filled: Order, fill: Fill, bar: int, reason: str) -> None:
        order = filled
        before = self.account.positions.get(order.symbol, order.product).quantity
        # Account.trade without the ledger entries a backtest does not store.
        charges = charges_for_fill(self.fee_model, fill)
        after = self.account.book_fill(fill, charges.total).quantity
        if filled.is_terminal:
            self.run.orders.append(filled)
        self.run.fills.append(FillRecord(fill, charges, bar))
        self.events.append((bar, self.account.cash, after))
        self._book_trip(fill, charges.total, before, after, bar, reason, order)

    def _book_trip(
        self,
        fill: Fill,
        charges: Decimal,
        before: Decimal,
        after: Decimal,
        bar: int,
        reason: str,
        order: Order,
    ) -> None:
        trade = self.trade
        if trade is None:
            self.trade = Trade(
                fill.symbol, fill.side, fill.quantity, fill.ts, fill.price, bar,
                cost=fill.quantity * fill.price, charges=charges, tag=order.algo_tag or "",
            )  # fmt: skip
            self._watch(order, bar)
            return
        trade.charges += charges
        if (after > 0) == (before > 0) and after != 0 and abs(after) > abs(before):
            trade.quantity += fill.quantity
            trade.cost += fill.quantity * fill.price
            trade.entry_price = trade.cost / trade.quantity
            return
        if after != 0:
            return  # a partial exit (not produced by the live exit rule); the trip goes on
        sign = 1 if trade.side is Side.BUY else -1
        trade.exit_time, trade.exit_price, trade.exit_bar = fill.ts, fill.price, bar
        trade.gross_pnl = sign * (trade.quantity * fill.price - trade.cost)
        trade.exit_reason = reason
        self._excursions(trade, bar)
        self.run.trades.append(trade)
        self.trade = None
        self.watch_from = -1
        self.watched = None

    def _excursions(self, trade: Trade, last: int) -> None:
        lo, hi = trade.entry_bar, last + 1
        entry, qty = float(trade.entry_price), float(trade.quantity)
        low, high = float(self.bars.low[lo:hi].min()), float(self.bars.high[lo:hi].max())
        if trade.side is Side.BUY:
            trade.mae, trade.mfe = min(0.0, (low - entry) * qty), max(0.0, (high - entry) * qty)
        else:
            trade.mae, trade.mfe = min(0.0, (entry - high) * qty), max(0.0, (entry - low) * qty)

    # -- stops and targets -----------------------------------------------------------

    def _watch(self, order: Order, bar: int) -> None:
        if not self.settings.stops or (order.stop is None and order.target is None):
            return
        # A fill at an open can be stopped within that bar; one at a close from the next bar.
        self.watch_from = bar if self.settings.fill is FillAt.NEXT_OPEN else bar + 1
        self.watched = order

    def _check_stops(self, i: int) -> None:
        trade = self.trade
        if trade is None or self.watch_from < 0:
            return
        lo, hi = self.watch_from, i + 1
        if lo >= hi:
            return
        order = self.watched
        assert order is not None
        stop = float(order.stop) if order.stop is not None else None
        target = float(order.target) if order.target is not None else None
        long = trade.side is Side.BUY
        b = self.bars
        self.watch_from = hi
        touch = first_touch(b.open[lo:hi], b.high[lo:hi], b.low[lo:hi], stop, target, long)
        if touch is None:
            return
        k = lo + touch.index
        when = b.time(k)
        if self.fine is not None:
            replayed = self._replay(k, stop, target, long)
            if replayed is not None:
                touch, when = replayed
                self.run.intrabar_replayed += 1
            elif touch.both:
                self.run.intrabar_unresolved += 1
        elif touch.both:
            self.run.intrabar_unresolved += 1
        side = Side.SELL if long else Side.BUY
        exit_order = Order(
            user_id=order.user_id,
            broker_account_id=order.broker_account_id,
            client_order_id=f"{order.client_order_id}-x",
            symbol=trade.symbol,
            side=side,
            quantity=abs(self.account.positions.get(trade.symbol, order.product).quantity),
            created_at=when,
            product=order.product,
            origin="system",
            subscription_id=order.subscription_id,
            algo_tag=touch.reason,
        ).with_status(S.SUBMITTED, when)
        if touch.reason == "stop":
            # A stop-market order, slipped like any market fill.
            self._fill(exit_order, touch.price, when, k, "stop")
        else:
            # A resting limit fills at its price, or at a better open it gapped to.
            limit = self.instrument.round_price(touch.price)
            self._fill(exit_order, float(limit), when, k, "target", exact=True)

    def _replay(
        self, k: int, stop: float | None, target: float | None, long: bool
    ) -> tuple[Touch, datetime] | None:
        """Bar ``k``'s finer candles, in order: the first to touch decides (None: none there,
        or none touches)."""
        fine = self.fine
        assert fine is not None
        start = int(self.bars.ts[k])
        lo = int(np.searchsorted(fine.ts, start, side="left"))
        hi = int(np.searchsorted(fine.ts, start + self.bars.step_ns, side="left"))
        if lo >= hi:
            return None
        touch = first_touch(fine.open[lo:hi], fine.high[lo:hi], fine.low[lo:hi], stop, target, long)
        if touch is None:
            return None
        return touch, fine.time(lo + touch.index)

    # -- the curve --------------------------------------------------------------------

    def _curve(self) -> np.ndarray:
        close = self.bars.close
        n = len(close)
        capital = float(self.settings.capital)
        if not self.events:
            return np.full(n, capital)
        at = np.array([e[0] for e in self.events], dtype=np.int64)
        cash = np.array([float(e[1]) for e in self.events])
        qty = np.array([float(e[2]) for e in self.events])
        idx = np.searchsorted(at, np.arange(n), side="right") - 1
        has = idx >= 0
        safe = np.maximum(idx, 0)
        return np.where(has, cash[safe] + qty[safe] * close, capital)


@dataclass(frozen=True, slots=True)
class Touch:
    """The first bar of a run of bars that reaches a stop or a target, and the exit price."""

    index: int
    reason: str
    """``stop`` or ``target``."""
    price: float
    both: bool
    """The bar touched both (the stop was taken first)."""


def first_touch(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    stop: float | None,
    target: float | None,
    long: bool,
) -> Touch | None:
    """The intrabar rule over consecutive bars: the first bar that touches the stop or the
    target exits; when one bar touches both, the stop first (pessimistic); a gap through the
    stop fills at the open, a target at its price or at a better open it gapped to."""
    n = len(open_)
    hit_stop = hit_target = np.zeros(n, dtype=bool)
    if stop is not None:
        hit_stop = low <= stop if long else high >= stop
    if target is not None:
        hit_target = high >= target if long else low <= target
    touched = hit_stop | hit_target
    if not touched.any():
        return None
    j = int(np.argmax(touched))
    both = bool(hit_stop[j] and hit_target[j])
    opened = float(open_[j])
    if hit_stop[j]:
        assert stop is not None
        gapped = opened <= stop if long else opened >= stop
        return Touch(j, "stop", opened if gapped else stop, both)
    assert target is not None
    gapped = opened >= target if long else opened <= target
    return Touch(j, "target", opened if gapped else target, both)
