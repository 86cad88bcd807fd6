"""Price alerts: the cost per tick of evaluating 10,000 active price alerts, beside the bare
tick path of the market data engine over the same ticks, in the same run.

Synthetic NSE ticks (fixed seed, 500 symbols, a random walk of about 0.05% a tick) arrive in
batches of 1,000. The reference is the market data service's own work on them
(``MarketDataService.process``: validation, the local tick store, 1m candles and roll-ups,
tick messages published on an in-process bus with no subscriber). The measured path is
what the price watcher does with each tick it receives (``PriceIndex.on_tick`` of the
tick message: bisection over the symbol's sorted thresholds, the windows of its moves, the
triggers), with 10,000 alerts over the same symbols: 45% "crosses above", 45% "crosses
below" (thresholds within 3% of the symbol's start price), 10% "moves X% within N
minutes" (1-5%, 5/15/60 minutes); half repeat. The watcher runs on its own subscription,
off the market data path: the ratio says how much of one core it needs for the same feed.
Each repeat starts from a fresh index (once-alerts leave it as they trigger); the two paths
run interleaved and the fastest run of each counts (the machines are shared), with the ratio
of the medians beside it.

    python -m bench price_alerts [--quick]
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np

from analytics_service.alerts.price import PriceIndex, PriceRule
from bench._core import Metric
from market_data_engine.candles import CandleEngine
from market_data_engine.feeds.base import Feed
from market_data_engine.service import MarketDataService
from market_data_engine.ticks import TickBatch
from market_data_engine.validation import TickValidator
from shared.alerts import PriceCondition, PriceRepeat
from shared.bus.inprocess import InProcessEventBus
from shared.calendar import IST
from shared.candle_cache import InProcessCandleCache
from shared.clock import EventClock
from shared.contracts import TickMsg
from shared.instruments import AssetClass, Instrument, InstrumentCatalog
from shared.runtime import freeze_startup_heap
from shared.tickstore.local import LocalTickStore

DESCRIPTION = "price alerts: evaluation per tick with 10,000 alerts vs the bare tick path"

SEED = 20261206
SYMBOLS = 500
ALERTS = 10_000
BATCH = 1_000
OPEN = datetime(2024, 6, 10, 9, 15, tzinfo=IST)  # a Monday session
TICK_NS = 1_000_000  # 1,000 ticks a second over all symbols
RATIO_TARGET = 0.5


def run(quick: bool) -> list[Metric]:
    n_ticks = 50_000 if quick else 300_000
    repeat = 3 if quick else 5
    symbols = [f"SYM{i:04d}" for i in range(SYMBOLS)]
    start = _start_prices(symbols)
    batches = _batches(symbols, start, n_ticks)
    messages = [_messages(b) for b in batches]
    rules = _rules(symbols, start)

    freeze_startup_heap()  # as the process entry points do: the inputs are not garbage
    asyncio.run(_tick_path(start, batches[:5]))  # warm-up: first-use costs of the engine
    bare: list[float] = []
    evaluated: list[tuple[float, int]] = []
    empty: list[tuple[float, int]] = []
    for _ in range(repeat):  # interleaved, so a busy machine slows both paths alike
        bare.append(asyncio.run(_tick_path(start, batches)))
        evaluated.append(_evaluate(rules, messages))
        empty.append(_evaluate([], messages))

    # The fastest run of each path: the one least disturbed by other work on a shared machine.
    bare_ns = min(bare) / n_ticks * 1e9
    alert_ns = min(s for s, _ in evaluated) / n_ticks * 1e9
    empty_ns = min(s for s, _ in empty) / n_ticks * 1e9
    spread = statistics.median(s for s, _ in evaluated) / statistics.median(bare)
    triggers = evaluated[0][1]
    ratio = alert_ns / bare_ns
    reference = "market data service per tick (validate, store, candles, publish)"
    return [
        Metric(
            metric=f"price_alert_eval_ns_per_tick_{ALERTS}_alerts",
            value=alert_ns,
            unit="ns/tick",
            reference=reference,
            reference_value=bare_ns,
            target=f"<= {RATIO_TARGET:g}x the tick path",
            met=ratio <= RATIO_TARGET,
        ),
        Metric(
            metric="price_alert_eval_ratio_of_medians",
            value=spread,
            unit="x",
            reference="median runs of both paths",
        ),
        Metric(
            metric="price_alert_eval_ns_per_tick_no_alerts",
            value=empty_ns,
            unit="ns/tick",
            reference=reference,
            reference_value=bare_ns,
        ),
        Metric(
            metric="price_alert_triggers_per_run",
            value=float(triggers),
            unit="triggers",
        ),
        Metric(
            metric="ticks_per_run",
            value=float(n_ticks),
            unit="ticks",
        ),
    ]


# -- data ------------------------------------------------------------------------------


def _start_prices(symbols: list[str]) -> dict[str, float]:
    rng = random.Random(SEED)
    return {s: round(rng.uniform(50, 5000), 2) for s in symbols}


def _batches(symbols: list[str], start: dict[str, float], n: int) -> list[TickBatch]:
    rng = np.random.default_rng(SEED)
    picks = rng.integers(0, len(symbols), n)
    steps = rng.normal(0, 0.0005, n)
    prices = np.array([start[s] for s in symbols])
    out_price = np.empty(n)
    for i in range(n):  # a random walk per symbol, ticks interleaved
        k = picks[i]
        prices[k] = max(0.05, prices[k] * (1 + steps[i]))
        out_price[i] = round(prices[k] / 0.05) * 0.05
    base = int(OPEN.timestamp() * 1e9)
    ts = base + np.arange(n, dtype=np.int64) * TICK_NS
    names = np.array(symbols, dtype=object)[picks]
    qty = np.ones(n)
    return [
        TickBatch(
            names[a : a + BATCH], ts[a : a + BATCH], out_price[a : a + BATCH], qty[a : a + BATCH]
        )
        for a in range(0, n, BATCH)
    ]


def _messages(batch: TickBatch) -> list[TickMsg]:
    return [
        TickMsg(
            symbol=str(s), ts=datetime.fromtimestamp(int(t) / 1e9, UTC), price=float(p), qty=1.0
        )
        for s, t, p in zip(batch.symbol, batch.ts_ns, batch.price, strict=True)
    ]


def _rules(symbols: list[str], start: dict[str, float]) -> list[PriceRule]:
    rng = random.Random(SEED + 1)
    out = []
    for i in range(ALERTS):
        symbol = symbols[i % len(symbols)]
        price = start[symbol]
        repeat = PriceRepeat.REPEATING if i % 2 else PriceRepeat.ONCE
        roll = rng.random()
        if roll < 0.45:
            rule = PriceRule(
                i + 1,
                i % 997 + 1,
                symbol,
                PriceCondition.CROSSES_ABOVE,
                price=price * (1 + rng.uniform(0, 0.03)),
                repeat=repeat,
            )
        elif roll < 0.9:
            rule = PriceRule(
                i + 1,
                i % 997 + 1,
                symbol,
                PriceCondition.CROSSES_BELOW,
                price=price * (1 - rng.uniform(0, 0.03)),
                repeat=repeat,
            )
        else:
            rule = PriceRule(
                i + 1,
                i % 997 + 1,
                symbol,
                PriceCondition.MOVES_PCT,
                percent=rng.uniform(1, 5),
                window_minutes=rng.choice((5, 15, 60)),
                repeat=repeat,
            )
        out.append(rule)
    return out


def _catalog(start: dict[str, float]) -> InstrumentCatalog:
    return InstrumentCatalog(
        Instrument(
            symbol=s,
            name=s,
            exchange="NSE",
            asset_class=AssetClass.EQUITY,
            currency="INR",
            sector="Synthetic",
            tick_size=Decimal("0.05"),
            lot_size=Decimal(1),
            freeze_qty=None,
            ref_price=Decimal(str(price)),
            daily_vol=0.02,
        )
        for s, price in start.items()
    )


# -- the two paths ---------------------------------------------------------------------


async def _tick_path(start: dict[str, float], batches: list[TickBatch]) -> float:
    """Seconds the market data service spends on the ticks (fresh service each run)."""
    catalog = _catalog(start)
    service = MarketDataService(
        _NoFeed(),
        validator=TickValidator(catalog),
        engine=CandleEngine(catalog.calendar, grace=timedelta(seconds=2)),
        tickstore=LocalTickStore(),
        bus=InProcessEventBus(),
        candle_cache=InProcessCandleCache(),
        clock=EventClock(OPEN),
        live_clock=False,
    )
    t0 = time.perf_counter()
    for batch in batches:
        await service.process(batch)
    return time.perf_counter() - t0


def _evaluate(rules: list[PriceRule], messages: list[list[TickMsg]]) -> tuple[float, int]:
    """Seconds the price watcher's evaluation spends on the same ticks, and its triggers."""
    index = PriceIndex(rules)
    fired = 0
    t0 = time.perf_counter()
    for batch in messages:
        for m in batch:
            fired += len(index.on_tick(m.symbol, m.price, m.ts))
    return time.perf_counter() - t0, fired


class _NoFeed(Feed):
    """The service's feed is not read here: batches are handed to ``process`` directly."""

    def __init__(self) -> None:
        super().__init__("bench", ())

    async def _stream(self) -> AsyncGenerator[TickBatch, None]:
        return
        yield  # an async generator that yields nothing
