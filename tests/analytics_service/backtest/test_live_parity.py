"""The same ticks through the live order path and through the backtester: identical orders
and fills.

Live: the live evaluator on each closed 1m candle, its intents handled by the real order
engine (database, risk chain with the user's stored limits, paper broker, fee schedule)
on an event clock, every tick sent to the engine before the candle it closes is evaluated.
Backtest: ``run_backtest`` over the same ticks (replay mode).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import select

from analytics_service.backtest.data import Ticks, bars_from_ticks
from analytics_service.backtest.engine import Identity, run_backtest
from analytics_service.backtest.market import market_for
from analytics_service.backtest.settings import BacktestRequest, BacktestSettings
from order_processor.config import ProcessorOptions
from order_processor.domain.risk import RiskLimits
from shared.clock import EventClock
from shared.contracts import CandleMsg, Product, TickMsg, Timeframe
from shared.db import transaction
from shared.models import Fill as FillRow
from shared.models import Order as OrderRow
from shared.models import UserRiskLimits
from strategy_workers.evaluation import Evaluator, SubscriptionSpec
from strategy_workers.strategies.base import CandleWindow
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import processor_env

SYMBOL = "SOLUSDT"
START = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
SUBSCRIPTION = 7
PARAMS = {"fast": 3, "slow": 8, "ma_type": "sma"}
SIZING = {"risk_fraction": "0.002"}
LIMITS = RiskLimits(max_position_size=Decimal("0.1"))


def make_ticks(minutes: int = 150, seed: int = 5) -> Ticks:
    """About five trades a minute at random times, a random walk on the 0.01 grid."""
    rng = np.random.default_rng(seed)
    n = minutes * 5
    offsets = np.sort(rng.uniform(0, minutes * 60, n))
    ts = int(START.timestamp()) * 10**9 + np.round(offsets * 1e6).astype(np.int64) * 1000
    ts = np.unique(ts)
    price = np.round(150 * np.exp(np.cumsum(rng.normal(0, 0.002, len(ts)))), 2)
    return Ticks(ts, price, np.full(len(ts), 5.0))


@pytest.fixture
async def env(request, tmp_path):
    settings = settings_for("sqlite", request, tmp_path)
    options = ProcessorOptions(read_block_ms=20, sweep_every_s=3600, resync_every_s=3600)
    async with processor_env(settings, clock=EventClock(START), options=options) as built:
        yield built


async def run_live(env, ticks: Ticks, user_id: int, account_id: int):
    bars = bars_from_ticks(SYMBOL, Timeframe.M1, ticks)
    instrument, _ = market_for(SYMBOL)
    spec = SubscriptionSpec(
        id=SUBSCRIPTION,
        user_id=user_id,
        broker_account_id=account_id,
        strategy="ma_crossover",
        params=PARAMS,
        symbols=(SYMBOL,),
        timeframe=Timeframe.M1,
        sizing_method="fixed_fractional",
        sizing_params=SIZING,
        capital=Decimal(100_000),
        product=Product.MIS,
    )
    evaluator = Evaluator(lot_size_for=lambda symbol: instrument.lot_size)
    full = bars.window()
    closed = 0
    for t, p, q in zip(ticks.ts.tolist(), ticks.price.tolist(), ticks.qty.tolist(), strict=True):
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=t // 1000)
        env.clock.advance_to(when)
        await env.engine.on_tick(TickMsg(symbol=SYMBOL, ts=when, price=p, qty=q))
        while closed < len(bars) and bars.end(closed) <= when:
            i = closed

            def window(symbol, timeframe, n, until, i=i):
                lo = max(0, i + 1 - n)
                return CandleWindow(
                    SYMBOL, Timeframe.M1, full.ts[lo : i + 1], full.open[lo : i + 1],
                    full.high[lo : i + 1], full.low[lo : i + 1], full.close[lo : i + 1],
                    full.volume[lo : i + 1],
                )  # fmt: skip

            candle = CandleMsg(
                symbol=SYMBOL, timeframe=Timeframe.M1, start=bars.time(i), end=bars.end(i),
                open=float(bars.open[i]), high=float(bars.high[i]), low=float(bars.low[i]),
                close=float(bars.close[i]), volume=float(bars.volume[i]), trades=0,
            )  # fmt: skip
            result = evaluator.execute(evaluator.plan([candle], [spec]), window)
            for intent in result.intents:
                await env.engine.handle_intent(intent)
            closed += 1
    async with env.sessions() as session:
        orders = (
            await session.scalars(
                select(OrderRow).where(OrderRow.user_id == user_id).order_by(OrderRow.id)
            )
        ).all()
        fills = (
            await session.scalars(
                select(FillRow).where(FillRow.user_id == user_id).order_by(FillRow.id)
            )
        ).all()
    return orders, fills


async def test_live_order_path_and_backtest_give_identical_orders_and_fills(env):
    ticks = make_ticks()
    user_id, account_id = await env.account(capital="100000", currency="USDT")
    async with transaction(env.sessions) as session:  # some entries are too big for this
        session.add(UserRiskLimits(user_id=user_id, limits=LIMITS.model_dump(mode="json")))

    live_orders, live_fills = await run_live(env, ticks, user_id, account_id)
    bars = bars_from_ticks(SYMBOL, Timeframe.M1, ticks)
    instrument, fees = market_for(SYMBOL)
    request = BacktestRequest(
        strategy="ma_crossover",
        params=PARAMS,
        symbol=SYMBOL,
        timeframe=Timeframe.M1,
        settings=BacktestSettings(capital=Decimal(100_000), sizing_params=SIZING, risk=LIMITS),
    )
    run = run_backtest(
        request, bars, instrument, fees,
        identity=Identity(user_id, account_id, SUBSCRIPTION), ticks=ticks,
    )  # fmt: skip

    def order_key(o):
        return (o.client_order_id, str(o.side), o.quantity.normalize(), str(o.status))

    assert len(live_fills) >= 6
    assert {o.reason_code for o in live_orders if o.status == "DENIED"} == {"max_position_size"}
    assert sorted(order_key(o) for o in live_orders) == sorted(
        (o.client_order_id, o.side.value, o.quantity.normalize(), o.status.value)
        for o in run.orders
    )
    keys = {o.id: o.client_order_id for o in live_orders}
    assert [
        (keys[f.order_id], f.side, f.quantity.normalize(), f.price.normalize(), f.ts)
        for f in live_fills
    ] == [
        (
            r.fill.client_order_id,
            r.fill.side.value,
            r.fill.quantity.normalize(),
            r.fill.price.normalize(),
            r.fill.ts.replace(tzinfo=None) if live_fills[0].ts.tzinfo is None else r.fill.ts,
        )
        for r in run.fills
    ]
    assert [f.charges.normalize() for f in live_fills] == [
        r.charges.total.normalize() for r in run.fills
    ]
