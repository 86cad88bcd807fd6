"""A feed that goes quiet while its market is open is told stale on feed:status, once; its next
tick tells it back. A closed market's silence is not staleness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from market_data_engine.candles.engine import CandleEngine
from market_data_engine.factory import build_feed_watch
from market_data_engine.feed_watch import FeedWatch, any_market_open
from market_data_engine.feeds.simulated import SimulatedFeed
from market_data_engine.service import MarketDataService
from market_data_engine.ticks import TickBatch
from market_data_engine.validation import TickValidator
from shared.alerts import CHANNEL_FEED_STATUS, FeedStatusMsg
from shared.bus import InProcessEventBus
from shared.candle_cache import InProcessCandleCache
from shared.clock import EventClock
from shared.config import Settings
from shared.instruments import load_catalog
from shared.tickstore import create_tickstore

OPEN = datetime(2026, 11, 20, 3, 45, tzinfo=UTC)  # Friday 09:15 IST
SATURDAY = datetime(2026, 11, 21, 5, 0, tzinfo=UTC)
STALE = timedelta(seconds=30)


def nse_watch(started: datetime = OPEN) -> FeedWatch:
    catalog = load_catalog()
    return FeedWatch(
        "simulated",
        ["RELIANCE", "INFY"],
        STALE,
        started,
        is_open=any_market_open([catalog.calendar("RELIANCE"), catalog.calendar("INFY")]),
    )


def test_a_quiet_feed_is_stale_once_and_back_on_its_next_tick():
    watch = nse_watch()
    assert watch.on_ticks(OPEN + timedelta(seconds=5)) is None
    assert watch.check(OPEN + timedelta(seconds=34)) is None  # 29 s quiet
    stale = watch.check(OPEN + timedelta(seconds=35))
    assert stale is not None and stale.state == "stale" and stale.feed == "simulated"
    assert stale.symbols == ["RELIANCE", "INFY"] and "30 s" in stale.detail
    assert watch.check(OPEN + timedelta(seconds=90)) is None  # told once
    back = watch.on_ticks(OPEN + timedelta(seconds=91))
    assert back is not None and back.state == "back"
    assert watch.on_ticks(OPEN + timedelta(seconds=92)) is None


def test_a_feed_that_never_ticks_after_start_is_stale():
    watch = nse_watch()
    assert watch.check(OPEN + STALE) is not None


def test_silence_while_every_market_of_the_feed_is_closed_is_not_stale():
    watch = nse_watch(SATURDAY)
    assert watch.check(SATURDAY + timedelta(hours=3)) is None
    assert watch.stale is False


def test_a_replay_feed_has_no_watch_and_a_live_one_follows_its_calendars():
    catalog = load_catalog()
    feed = SimulatedFeed(catalog, ["RELIANCE"], seed=1, rate=1, realtime=False, start=OPEN)
    live = build_feed_watch(Settings(_env_file=None), catalog, feed, EventClock(SATURDAY))
    assert live is not None and live.check(SATURDAY + timedelta(hours=1)) is None
    replay = Settings(_env_file=None, feed="replay", feed_replay_paths=["x.csv"])
    assert build_feed_watch(replay, catalog, feed, EventClock(OPEN)) is None
    off = Settings(_env_file=None, feed_stale_after_seconds=0)
    assert build_feed_watch(off, catalog, feed, EventClock(OPEN)) is None


def _batch(at: datetime) -> TickBatch:
    t = int(at.timestamp() * 1e9)
    return TickBatch(
        np.array(["INFY"], dtype=object),
        np.array([t], dtype=np.int64),
        np.array([1500.0]),
        np.array([1.0]),
    )


async def test_the_market_data_service_publishes_stale_and_back_on_feed_status():
    catalog = load_catalog()
    clock = EventClock(OPEN)
    bus = InProcessEventBus()
    service = MarketDataService(
        SimulatedFeed(catalog, ["INFY"], seed=1, rate=1, realtime=False, start=OPEN),
        validator=TickValidator(catalog),
        engine=CandleEngine(catalog.calendar),
        tickstore=create_tickstore("local"),
        bus=bus,
        candle_cache=InProcessCandleCache(),
        clock=clock,
        live_clock=False,
        feed_watch=nse_watch(),
    )
    sub = await bus.subscribe([CHANNEL_FEED_STATUS], [])
    await service.process(_batch(OPEN + timedelta(seconds=1)))
    clock.advance_to(OPEN + timedelta(seconds=40))
    await service.check_feed(clock.now())
    await service.check_feed(clock.now())
    clock.advance_to(OPEN + timedelta(seconds=41))
    await service.process(_batch(OPEN + timedelta(seconds=41)))

    told = []
    while (item := await sub.get(wait=0)) is not None:
        told.append(item)
    assert [(c, m.state) for c, m in told] == [
        (CHANNEL_FEED_STATUS, "stale"),
        (CHANNEL_FEED_STATUS, "back"),
    ]
    assert all(isinstance(m, FeedStatusMsg) for _, m in told)
