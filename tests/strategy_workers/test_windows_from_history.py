"""A new subscription's windows come from stored history at once (the candle cache is filled
from the tick store when the market data engine starts), so it signals at the next close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from market_data_engine.backfill import HistoryBackfill, warm_candle_cache
from market_data_engine.feeds.simulated_history import HistorySimulator
from shared.calendar import IST
from shared.clock import EventClock
from shared.contracts import CandleMsg, Timeframe
from shared.instruments import load_catalog
from shared.tickstore import LocalTickStore
from tests.strategy_workers import test_service_evaluation as evaluation

# The evaluation service on SQLite with a probe strategy, as in test_service_evaluation.
lite, registry = evaluation.lite, evaluation.registry
sqlite_url, template_db = evaluation.sqlite_url, evaluation.template_db

SATURDAY = datetime(2026, 12, 5, 17, 5, tzinfo=UTC)
MONDAY_OPEN = datetime(2026, 12, 7, 9, 15, tzinfo=IST)


def _next_candle() -> CandleMsg:
    return CandleMsg(
        symbol="INFY", timeframe=Timeframe.M5, start=MONDAY_OPEN,
        end=MONDAY_OPEN + timedelta(minutes=5), open=1500, high=1502, low=1499, close=1501,
        volume=1000, trades=20,
    )  # fmt: skip


async def _history_in_cache(cache) -> None:
    store = LocalTickStore(max_candles_per_series=50_000)
    backfill = HistoryBackfill(
        store,
        load_catalog(),
        HistorySimulator(ticks_per_minute=20, seed=1),
        EventClock(SATURDAY),
        sessions=5,
    )
    await backfill.run(["INFY"])
    await warm_candle_cache(store, cache, ["INFY"])


async def test_a_new_subscription_evaluates_at_the_first_close_after_a_start(lite):
    owner = await lite.trader()
    await lite.subscribe(owner, params={"bars": 120})
    await _history_in_cache(lite.cache)
    candle = _next_candle()
    await lite.cache.push([candle])

    outcome = await lite.service.handle([candle])

    assert outcome.evaluations == 1 and outcome.skipped == []
    assert len(outcome.signals) == 1


async def test_without_stored_history_the_subscription_is_warming_up(lite):
    owner = await lite.trader()
    await lite.subscribe(owner, params={"bars": 120})
    candle = _next_candle()
    await lite.cache.push([candle])

    outcome = await lite.service.handle([candle])

    assert outcome.signals == []
    assert outcome.skipped[0].reason == "warming up: 1 of 120 bars"
