"""The simulated market's past: 1m bars over recent sessions, drawn from the live feed's model.

Each bar is a stretch of the same geometric random walk the simulated feed runs
(the instrument's daily volatility spread over its session), sampled at a few points
a minute for the high and low, on the instrument's tick grid; trades and volume
follow the feed's rate and trade sizes (with NSE's U-shaped activity). Bars exist
only inside the exchange's sessions, so weekends and holidays are gaps, as in live
candles. Everything is seeded: the same symbol, seed and time range give the same bars.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

import numpy as np

from market_data_engine.candles.buckets import MINUTE_NS, to_ns
from market_data_engine.candles.history import MinuteBars, empty_bars
from market_data_engine.feeds._random_walk import (
    _TRADE_NOTIONAL,
    _TRADE_SIZE_SIGMA,
    DAY_S,
    _intraday_activity,
)
from shared.calendar import Calendar, NSECalendar, SessionHoursCalendar
from shared.instruments import Instrument, snap_to_grid

STEPS_PER_BAR = 8  # points of the walk inside a minute (they make the high and the low)
_VOLUME_NOISE = 0.35  # lognormal spread of a minute's volume around trades x typical size


def sessions_back(calendar: Calendar, now: datetime, sessions: int) -> datetime:
    """The open of the ``sessions``-th most recent session that opened by ``now``."""
    opened, _ = calendar.last_session(now)
    for _ in range(sessions - 1):
        opened, _ = calendar.last_session(opened - timedelta(microseconds=1))
    return opened


def minute_buckets(
    calendar: Calendar, start_ns: int, end_ns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Start, end, session open and session close (ns) of every whole 1m bucket of a session
    that starts at or after ``start_ns`` and ends by ``end_ns``."""
    parts: list[tuple[np.ndarray, np.ndarray, int, int]] = []
    if end_ns > start_ns:
        first = datetime.fromtimestamp(start_ns // 10**9, tz=calendar.tz).date()
        last = datetime.fromtimestamp(end_ns // 10**9, tz=calendar.tz).date()
        day = first - timedelta(days=1)
        while day <= last:
            bounds = calendar.session_bounds(day)
            day += timedelta(days=1)
            if bounds is None:
                continue
            s_open, s_close = to_ns(bounds[0]), to_ns(bounds[1])
            skip = max(0, -(-(start_ns - s_open) // MINUTE_NS))  # whole buckets before start
            starts = np.arange(s_open + skip * MINUTE_NS, s_close, MINUTE_NS, dtype=np.int64)
            ends = np.minimum(starts + MINUTE_NS, s_close)
            keep = ends <= end_ns
            if keep.any():
                parts.append((starts[keep], ends[keep], s_open, s_close))
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty, empty
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([np.full(p[0].shape[0], p[2], dtype=np.int64) for p in parts]),
        np.concatenate([np.full(p[0].shape[0], p[3], dtype=np.int64) for p in parts]),
    )


class HistorySimulator:
    """1m bars of the simulated market for a time range, per instrument.

    ``ticks_per_minute`` is what the live feed gives one symbol (its rate shared by its
    symbols); it sets the trade count and so the volume of a bar.
    """

    def __init__(self, *, ticks_per_minute: float, seed: int = 0) -> None:
        if not ticks_per_minute > 0:
            raise ValueError("ticks_per_minute must be positive")
        self.ticks_per_minute = ticks_per_minute
        self.seed = seed

    def bars(
        self,
        instrument: Instrument,
        calendar: Calendar,
        start: datetime,
        end: datetime,
        *,
        start_price: float | None = None,
        end_price: float | None = None,
    ) -> MinuteBars:
        """Bars of the sessions' whole minutes in ``[start, end)``.

        The walk starts at ``start_price`` (carrying on from stored history) or, without
        one, ends at ``end_price`` (default: the instrument's reference price, where the
        live feed starts), so history and live prices join up.
        """
        start_ns, end_ns = to_ns(start), to_ns(end)
        starts, ends, s_open, s_close = minute_buckets(calendar, start_ns, end_ns)
        n = starts.shape[0]
        if n == 0:
            return empty_bars(instrument.symbol)
        rng = np.random.default_rng(
            [self.seed, zlib.crc32(instrument.symbol.encode()), start_ns // MINUTE_NS]
        )
        session_minutes = (
            calendar.session_seconds if isinstance(calendar, SessionHoursCalendar) else DAY_S
        ) / 60
        sigma = instrument.daily_vol / np.sqrt(session_minutes * STEPS_PER_BAR)
        walk = np.concatenate(([0.0], np.cumsum(rng.standard_normal(n * STEPS_PER_BAR) * sigma)))
        if start_price is not None:
            walk += np.log(start_price)
        else:
            target = end_price if end_price is not None else float(instrument.ref_price)
            walk += np.log(target) - walk[-1]
        tick = float(instrument.tick_size)
        prices = np.maximum(snap_to_grid(np.exp(walk), tick), tick)
        inside = prices[1:].reshape(n, STEPS_PER_BAR)
        opens = prices[:-1:STEPS_PER_BAR]
        closes = inside[:, -1]
        highs = np.maximum(opens, inside.max(axis=1))
        lows = np.minimum(opens, inside.min(axis=1))
        trades = np.maximum(1, rng.poisson(self.ticks_per_minute, n)).astype(np.int64)
        volume = self._volume(instrument, calendar, starts, closes, trades, rng)
        return MinuteBars(
            instrument.symbol,
            starts,
            ends,
            s_open,
            s_close,
            opens,
            highs,
            lows,
            closes,
            volume,
            trades,
        )

    @staticmethod
    def _volume(
        instrument: Instrument,
        calendar: Calendar,
        starts: np.ndarray,
        closes: np.ndarray,
        trades: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        lot = float(instrument.lot_size)
        notional = _TRADE_NOTIONAL.get(instrument.currency, 1_000.0)
        # The mean of the feed's lognormal trade size, in lots, at each bar's price.
        lots_per_trade = notional / (closes * lot) * np.exp(_TRADE_SIZE_SIGMA**2 / 2)
        if isinstance(calendar, NSECalendar):
            lots_per_trade = lots_per_trade * _intraday_activity(starts)
        noise = np.exp(_VOLUME_NOISE * rng.standard_normal(starts.shape[0]))
        lots = np.maximum(trades, np.rint(trades * lots_per_trade * noise))
        volume: np.ndarray = np.round(lots * lot, 10)
        return volume
