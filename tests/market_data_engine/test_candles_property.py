"""The engine against a naive reference: random tick streams, random batch splits, timers.

The reference processes one tick at a time with datetimes and dicts, written
from the rules (session alignment, grace, late ticks) rather than from the
engine's code, and aggregates every timeframe straight from ticks (no roll-up).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market_data_engine.candles import CandleEngine, _candles
from market_data_engine.ticks import TickBatch
from shared.calendar import IST, AlwaysOpenCalendar, NSECalendar
from shared.contracts import CandleMsg, Timeframe

NSE = NSECalendar()
CRYPTO = AlwaysOpenCalendar()
CALENDARS: dict[str, NSECalendar | AlwaysOpenCalendar] = {
    "INFY": NSE,
    "TCS": NSE,
    "BTCUSDT": CRYPTO,
}
SYMBOLS = sorted(CALENDARS)
GRACE = timedelta(seconds=2)
WIDTH = {
    Timeframe.M1: timedelta(minutes=1),
    Timeframe.M5: timedelta(minutes=5),
    Timeframe.M15: timedelta(minutes=15),
    Timeframe.H1: timedelta(hours=1),
    Timeframe.D1: None,
}
TF_ORDER = {tf: i for i, tf in enumerate(Timeframe)}
# Interesting instants: NSE open, an NSE hour boundary, NSE close, Friday close into the
# weekend, and UTC midnight (a crypto day boundary while NSE is closed).
ANCHORS = [
    datetime(2024, 6, 10, 9, 14, 30, tzinfo=IST),
    datetime(2024, 6, 10, 10, 13, 30, tzinfo=IST),
    datetime(2024, 6, 10, 15, 28, 0, tzinfo=IST),
    datetime(2024, 6, 14, 15, 29, 0, tzinfo=IST),
    datetime(2024, 6, 10, 23, 58, 0, tzinfo=UTC),
]


@dataclass
class _Bar:
    end: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int
    first: datetime
    last: datetime


class ReferenceCandles:
    """One tick at a time, every timeframe aggregated directly from ticks."""

    def __init__(self) -> None:
        self.seen: dict[str, datetime] = {}
        self.timer: datetime | None = None
        self.bars: dict[tuple[str, Timeframe, datetime], _Bar] = {}
        self.late: Counter[str] = Counter()
        self.out_of_session: Counter[str] = Counter()

    def horizon(self, symbol: str) -> datetime | None:
        times = [t for t in (self.seen.get(symbol), self.timer) if t is not None]
        return max(times) if times else None

    def tick(self, symbol: str, ts: datetime, price: float, qty: float) -> None:
        horizon = self.horizon(symbol)
        self.seen[symbol] = max(self.seen.get(symbol, ts), ts)
        calendar = CALENDARS[symbol]
        bounds = calendar.session_bounds(ts.astimezone(calendar.tz).date())
        if bounds is None or not bounds[0] <= ts < bounds[1]:
            self.out_of_session[symbol] += 1
            return
        if horizon is not None and _bucket(bounds, ts, WIDTH[Timeframe.M1])[1] + GRACE <= horizon:
            self.late[symbol] += 1
            return
        for tf, width in WIDTH.items():
            start, end = _bucket(bounds, ts, width)
            bar = self.bars.get((symbol, tf, start))
            if bar is None:
                self.bars[(symbol, tf, start)] = _Bar(
                    end, price, price, price, price, qty, 1, ts, ts
                )
                continue
            if ts < bar.first:
                bar.first, bar.open = ts, price
            if ts >= bar.last:
                bar.last, bar.close = ts, price
            bar.high = max(bar.high, price)
            bar.low = min(bar.low, price)
            bar.volume += qty
            bar.trades += 1

    def on_timer(self, now: datetime) -> None:
        self.timer = now if self.timer is None else max(self.timer, now)

    def closed(self) -> list[CandleMsg]:
        out = []
        for key, bar in list(self.bars.items()):
            horizon = self.horizon(key[0])
            if horizon is not None and bar.end + GRACE <= horizon:
                out.append(_msg(key, bar))
                del self.bars[key]
        return sorted(out, key=lambda c: (c.end, c.symbol, TF_ORDER[c.timeframe]))

    def open_candle(self, symbol: str, tf: Timeframe) -> CandleMsg | None:
        keys = [k for k in self.bars if k[0] == symbol and k[1] == tf]
        if not keys:
            return None
        key = max(keys, key=lambda k: k[2])
        return _msg(key, self.bars[key])


def _bucket(
    bounds: tuple[datetime, datetime], ts: datetime, width: timedelta | None
) -> tuple[datetime, datetime]:
    if width is None:
        return bounds
    start = bounds[0] + ((ts - bounds[0]) // width) * width
    return start, min(start + width, bounds[1])


def _msg(key: tuple[str, Timeframe, datetime], bar: _Bar) -> CandleMsg:
    symbol, tf, start = key
    return CandleMsg(
        symbol=symbol,
        timeframe=tf,
        start=start,
        end=bar.end,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=bar.volume,
        trades=bar.trades,
    )


# One tick: (symbol index, step of the feed clock in 0.5 s units, lag behind it in 0.5 s
# units, price index, quantity). Coarse steps make equal timestamps common; lags put
# ticks out of order, some within the 2 s grace and some beyond it.
_tick = st.tuples(
    st.integers(0, len(SYMBOLS) - 1),
    st.one_of(st.just(0), st.integers(0, 40), st.integers(0, 2_400)),
    st.one_of(st.just(0), st.integers(0, 10), st.integers(0, 150)),
    st.integers(0, 30),
    st.integers(0, 5),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[tuple[str, datetime, float, float]], list]:
    anchor = draw(st.sampled_from(ANCHORS))
    raw = draw(st.lists(_tick, min_size=1, max_size=80))
    clock = anchor
    ticks = []
    for sym, step, lag, price, qty in raw:
        clock += timedelta(milliseconds=500 * step)
        ticks.append(
            (
                SYMBOLS[sym],
                clock - timedelta(milliseconds=500 * lag),
                100 + price * 0.05,
                float(qty),
            )
        )
    cuts = sorted(draw(st.sets(st.integers(1, len(ticks)), max_size=12)) | {len(ticks)})
    # After a batch, maybe a timer at the feed clock plus an offset (seconds).
    timers = draw(
        st.lists(st.one_of(st.none(), st.integers(-3, 120)), min_size=len(cuts), max_size=len(cuts))
    )
    return ticks, list(zip(cuts, timers, strict=True))


def _batch(ticks: list[tuple[str, datetime, float, float]]) -> TickBatch:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return TickBatch(
        np.array([t[0] for t in ticks], dtype=object),
        np.array([(t[1] - epoch) // timedelta(microseconds=1) * 1000 for t in ticks], np.int64),
        np.array([t[2] for t in ticks], dtype=np.float64),
        np.array([t[3] for t in ticks], dtype=np.float64),
    )


@pytest.mark.parametrize("aggregation", ["polars", "numpy"])
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_engine_matches_reference_for_every_call_and_timeframe(aggregation, scenario) -> None:
    polars_min_ticks = 0 if aggregation == "polars" else 10**9
    with _aggregation(polars_min_ticks):
        _check_against_reference(*scenario)


@contextmanager
def _aggregation(polars_min_ticks: int) -> Iterator[None]:
    """Force tick aggregation through one implementation (the engine picks by batch size)."""
    saved = _candles.POLARS_MIN_TICKS
    _candles.POLARS_MIN_TICKS = polars_min_ticks
    try:
        yield
    finally:
        _candles.POLARS_MIN_TICKS = saved


def _check_against_reference(ticks: list, calls: list) -> None:
    engine = CandleEngine(CALENDARS, grace=GRACE)
    reference = ReferenceCandles()
    done = 0
    feed_clock = ticks[0][1]
    for cut, timer in calls:
        batch = ticks[done:cut]
        for t in batch:
            reference.tick(*t)
            feed_clock = max(feed_clock, t[1])
        done = cut

        assert engine.ingest(_batch(batch)) == reference.closed()

        if timer is not None:
            now = feed_clock + timedelta(seconds=timer)
            reference.on_timer(now)
            assert engine.on_timer(now) == reference.closed()

    for symbol in SYMBOLS:
        stats = engine.stats(symbol)
        assert stats.late == reference.late[symbol]
        assert stats.out_of_session == reference.out_of_session[symbol]
        for tf in Timeframe:
            assert engine.open_candle(symbol, tf) == reference.open_candle(symbol, tf)
