"""The candle engine: ticks in batches -> 1m candles -> 5m/15m/1h/1d roll-ups, on event time.

Pure domain code: no I/O. The service layer feeds it tick batches and a timer,
and publishes the closed candles it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from market_data_engine.candles import _candles
from market_data_engine.candles._candles import Candles
from market_data_engine.candles._late import NO_TIME, late_mask
from market_data_engine.candles._messages import candle_messages, message_shells
from market_data_engine.candles._prepared import PreparedCloses
from market_data_engine.candles._symbols import SymbolRegistry
from market_data_engine.candles.buckets import (
    MINUTE_NS,
    TF_CODE,
    SessionCalendar,
    bucket_bounds,
    duration_ns,
    from_ns,
    to_ns,
)
from market_data_engine.candles.cache import CandleCache
from market_data_engine.candles.history import MinuteBars, rows_of
from market_data_engine.ticks import TickBatch
from shared.contracts import CandleMsg, Timeframe

SHELLS_PER_CALL = 500
"""Message objects made ahead per call that closes nothing (about 0.2 ms of work)."""


class ClosedCandles(list[CandleMsg]):
    """The candles one call closed, in order; ``channels[i]`` is the bus channel of ``self[i]``.

    ``closed_at`` is when the service closed them, by its clock (the engine leaves it None):
    strategies judge a candle's age from it.
    """

    __slots__ = ("channels", "closed_at")

    def __init__(self, candles: Iterable[CandleMsg] = (), channels: Sequence[str] = ()) -> None:
        super().__init__(candles)
        self.channels = channels
        self.closed_at: datetime | None = None

    def events(self) -> list[tuple[str, CandleMsg]]:
        """(channel, candle) pairs, ready for ``EventBus.publish_many``."""
        return list(zip(self.channels, self, strict=True))


@dataclass(frozen=True, slots=True)
class SymbolStats:
    """Tick counts of one symbol: merged into candles, dropped as late, outside the session."""

    accepted: int
    late: int
    out_of_session: int


class CandleEngine:
    """Builds OHLCV candles for many symbols from tick batches, on event time.

    ``calendars`` gives each symbol's exchange calendar (a mapping or a callable;
    a missing symbol raises ``LookupError`` and its ticks are counted as unknown).
    A bucket closes when its symbol's latest tick time, or the timer, reaches the
    bucket end plus ``grace``. Late ticks for closed buckets are counted, never merged.
    """

    def __init__(
        self,
        calendars: Mapping[str, SessionCalendar] | Callable[[str], SessionCalendar],
        *,
        grace: timedelta = timedelta(seconds=2),
        cache_size: int = 300,
    ) -> None:
        if grace < timedelta(0):
            raise ValueError("grace must not be negative")
        resolve = calendars.__getitem__ if isinstance(calendars, Mapping) else calendars
        self._symbols = SymbolRegistry(resolve)
        self._grace = duration_ns(grace)
        self._timer = int(NO_TIME)
        self._open_1m = Candles.empty()
        self._open_higher = Candles.empty()
        self._name_rank = np.empty(0, dtype=np.int64)
        self._shells: list[CandleMsg] = []  # message objects made ahead of the next burst
        self._prepared = PreparedCloses()  # messages of candles whose grace runs
        self._cache = CandleCache(self._symbols.ids, cache_size)
        self._uncached = Candles.empty()  # closed rows not in the cache yet (see settle)
        self.unknown_symbol_ticks = 0

    @property
    def cache(self) -> CandleCache:
        """The last closed candles per (symbol, timeframe), every candle closed so far in it."""
        self.settle()
        return self._cache

    def settle(self) -> None:
        """Finish the bookkeeping of the last close: its candles go into the cache.

        A close hands its candles out first and leaves this for later, so that the caller
        can publish them before the engine spends time on itself; the next call, and any
        read of the cache, settles first if the caller did not.
        """
        if len(self._uncached):
            rows, self._uncached = self._uncached, Candles.empty()
            self._cache.append(rows)

    # -- feeding ---------------------------------------------------------------------------

    def ingest(self, batch: TickBatch) -> ClosedCandles:
        """Merge a batch of ticks (in arrival order) and return the candles that closed."""
        self.settle()
        if len(batch):
            self._absorb(batch)
        return self._close()

    def on_timer(self, now: datetime) -> ClosedCandles:
        """Close every bucket whose end + grace <= ``now`` (for quiet feeds)."""
        self.settle()
        self._timer = max(self._timer, to_ns(now))
        return self._close()

    def seed(self, bars: MinuteBars, now: datetime) -> None:
        """Start the open 5m/15m/1h/1d candles of ``bars.symbol`` from its closed 1m history.

        After a start in the middle of a session, the higher candles under way then hold
        the minutes before the start as well as the ticks that follow. Only buckets still
        open at ``now`` are taken; call it before the symbol's first tick.
        """
        if not len(bars):
            return
        sid = int(self._symbols.ids_of(np.array([bars.symbol], dtype=object))[0])
        if sid < 0:
            return
        rolled = _candles.merge([_candles.rollup(rows_of(bars, sid))])
        self._open_higher = _candles.absorb(self._open_higher, rolled.take(rolled.end > to_ns(now)))

    def _absorb(self, batch: TickBatch) -> None:
        symbols = self._symbols
        sid = symbols.ids_of(batch.symbol)
        ts, price, qty = batch.ts_ns, batch.price, batch.qty
        known = sid >= 0
        if not known.all():
            self.unknown_symbol_ticks += int((~known).sum())
            sid, ts, price, qty = sid[known], ts[known], price[known], qty[known]
            if sid.size == 0:
                return
        inside, s_open, s_close = symbols.sessions(sid, ts)
        start, end = bucket_bounds(ts, s_open, s_close, MINUTE_NS)
        horizon = np.maximum(symbols.watermark[sid], self._timer)
        late = inside & late_mask(sid, ts, end, horizon, self._grace)
        # Every tick moves its symbol's event time, even one outside the session.
        np.maximum.at(symbols.watermark, sid, ts)
        keep = inside & ~late
        count = len(symbols)
        symbols.late += np.bincount(sid[late], minlength=count)
        symbols.out_of_session += np.bincount(sid[~inside], minlength=count)
        symbols.accepted += np.bincount(sid[keep], minlength=count)
        if not keep.any():
            return
        idx = np.flatnonzero(keep)
        kept_ts = ts[idx]
        if not bool(np.all(kept_ts[1:] >= kept_ts[:-1])):
            idx = idx[np.argsort(kept_ts, kind="stable")]  # time order; ties keep arrival order
        agg = _candles.aggregate_ticks(
            _candles.bucket_key(sid[idx], 0, start[idx]), ts[idx], price[idx], qty[idx]
        )
        self._open_1m = _candles.absorb(self._open_1m, self._partials(agg))

    def _partials(self, agg: dict[str, np.ndarray]) -> Candles:
        """1m candles from per-bucket aggregates (a bucket is found again from its first tick)."""
        sid = _candles.sid_of_key(agg["key"])
        first_ts = agg["first_ts"]
        _, s_open, s_close = self._symbols.sessions(sid, first_ts)
        start, end = bucket_bounds(first_ts, s_open, s_close, MINUTE_NS)
        return Candles(
            sid=sid,
            tf=np.zeros(sid.shape[0], dtype=np.int8),
            start=start,
            end=end,
            s_open=s_open,
            s_close=s_close,
            open=agg["open"],
            high=agg["high"],
            low=agg["low"],
            close=agg["close"],
            volume=agg["volume"],
            trades=agg["trades"].astype(np.int64),
            first_ts=first_ts,
            last_ts=agg["last_ts"],
        )

    # -- closing ---------------------------------------------------------------------------

    def _close(self) -> ClosedCandles:
        # The garbage collector is the process's business (its entry point tunes it),
        # not the engine's: nothing here pauses it.
        closed = self._close_rows()
        if len(closed) == 0:
            self._prepare()
            self._make_shells()
            return ClosedCandles()
        self._uncached = closed
        channels = self._symbols.channels[closed.sid, closed.tf].tolist()
        return ClosedCandles(self._closed_messages(closed), channels)

    def _make_shells(self) -> None:
        """Make message objects for the candles open now, a slice per quiet call.

        Every open candle closes one day, mostly in a burst at a bucket boundary; its
        message object made now, in a call that closes nothing, leaves the burst only
        the fields to fill in.
        """
        missing = len(self._open_1m) + len(self._open_higher) - len(self._shells)
        if missing > 0:
            self._shells += message_shells(min(missing, SHELLS_PER_CALL))

    def _close_rows(self) -> Candles:
        if len(self._open_1m) == 0 and len(self._open_higher) == 0:
            return Candles.empty()
        horizon = np.maximum(self._symbols.watermark, self._timer)
        closed, self._open_1m, self._open_higher = _split_closed(
            self._open_1m, self._open_higher, horizon, self._grace
        )
        if len(closed) == 0:
            return closed
        # Deterministic order: by end, then symbol, then timeframe.
        return closed.take(np.lexsort((closed.tf, self._ranks()[closed.sid], closed.end)))

    def _prepare(self) -> None:
        """Build the messages of candles whose bucket has ended but whose grace still runs.

        Works on copies of the open rows of the symbols not prepared yet, as if their
        grace were over; the state itself changes only when they really close.
        """
        rows = self._open_1m
        if self._grace == 0:
            return
        horizon = np.maximum(self._symbols.watermark, self._timer)
        self._prepared.prune(horizon, self._grace)
        if len(rows) == 0:
            return
        pending = np.flatnonzero(rows.end <= horizon[rows.sid])
        if pending.size == 0:
            return
        sid = rows.sid[pending]
        missing = self._prepared.missing(_candles.bucket_key(sid, 0, rows.start[pending]))
        if not missing.any():
            return
        symbols = np.unique(sid[missing])
        higher = self._open_higher
        ahead, _, _ = _split_closed(
            rows.take(np.isin(rows.sid, symbols)),
            higher.take(np.isin(higher.sid, symbols)),
            horizon,
            0,
        )
        self._prepared.add(ahead, self._messages(ahead, self._shells))

    def _closed_messages(self, rows: Candles) -> list[CandleMsg]:
        """Messages of closed rows: prepared ones where still equal, new ones for the rest."""
        if len(self._prepared) == 0:
            return self._messages(rows, self._shells)
        out, stale = self._prepared.take(rows)
        if stale.size:
            fresh = self._messages(rows.take(stale), self._shells)
            for i, msg in zip(stale.tolist(), fresh, strict=True):
                out[i] = msg
        return out  # type: ignore[return-value]  # every None was just replaced

    def _ranks(self) -> np.ndarray:
        """Each symbol id's position in name order (for the deterministic output order)."""
        names = self._symbols.name_array
        if self._name_rank.shape[0] != len(names):
            rank = np.empty(len(names), dtype=np.int64)
            rank[np.argsort(names, kind="stable")] = np.arange(len(names))
            self._name_rank = rank
        return self._name_rank

    def _messages(self, rows: Candles, shells: list[CandleMsg] | None = None) -> list[CandleMsg]:
        return candle_messages(
            self._symbols.name_array, rows.sid, rows.tf, rows.start, rows.end, rows.open,
            rows.high, rows.low, rows.close, rows.volume, rows.trades, shells,
        )  # fmt: skip

    # -- views -----------------------------------------------------------------------------

    def recent(self, symbol: str, timeframe: Timeframe, n: int) -> list[CandleMsg]:
        """The last ``n`` closed candles of (symbol, timeframe), oldest first."""
        return self.cache.recent(symbol, timeframe, n)

    def open_candles(self, timeframe: Timeframe) -> list[CandleMsg]:
        """The in-progress candle of every symbol for ``timeframe`` (latest bucket), by symbol."""
        rows = _candles.latest_per_symbol(self._open_view(TF_CODE[Timeframe(timeframe)]))
        return self._messages(rows.take(np.argsort(self._ranks()[rows.sid], kind="stable")))

    def open_candle(self, symbol: str, timeframe: Timeframe) -> CandleMsg | None:
        """The in-progress candle of (symbol, timeframe), or None when it has no ticks yet."""
        sid = self._symbols.ids.get(symbol)
        if sid is None:
            return None
        rows = _candles.latest_per_symbol(self._open_view(TF_CODE[Timeframe(timeframe)], sid))
        return self._messages(rows)[0] if len(rows) else None

    def _open_view(self, code: int, sid: int | None = None) -> Candles:
        one_minute = self._open_1m
        if sid is not None:
            one_minute = one_minute.take(one_minute.sid == sid)
        if code == 0:
            return one_minute
        higher = self._open_higher
        keep = higher.tf == code if sid is None else (higher.tf == code) & (higher.sid == sid)
        return _candles.merge([higher.take(keep), _candles.rollup(one_minute, (code,))])

    def stats(self, symbol: str) -> SymbolStats:
        """Tick counts of ``symbol`` since the engine started (zeros if never seen)."""
        sid = self._symbols.ids.get(symbol)
        if sid is None:
            return SymbolStats(0, 0, 0)
        s = self._symbols
        return SymbolStats(int(s.accepted[sid]), int(s.late[sid]), int(s.out_of_session[sid]))

    def event_time(self) -> datetime | None:
        """The latest tick time seen for any symbol (None before the first tick)."""
        marks = self._symbols.watermark
        if marks.size == 0:
            return None
        latest = int(marks.max())
        return None if latest == NO_TIME else from_ns(latest)

    def watermark(self, symbol: str) -> datetime | None:
        """The latest tick time seen for ``symbol`` (None if never seen)."""
        sid = self._symbols.ids.get(symbol)
        if sid is None or self._symbols.watermark[sid] == NO_TIME:
            return None
        return from_ns(int(self._symbols.watermark[sid]))


def _split_closed(
    open_1m: Candles, open_higher: Candles, horizon: np.ndarray, grace: int
) -> tuple[Candles, Candles, Candles]:
    """(closed, open 1m, open higher): 1m rows that close roll up into the higher ones.

    Rows of ``open_higher`` that a closing minute updates are changed in place.
    """
    closed_1m, open_1m = _candles.split_closed(open_1m, horizon, grace)
    if len(closed_1m):
        rolled = _candles.rollup(closed_1m)
        if int(np.bincount(closed_1m.sid).max()) > 1:
            # Several minutes of one symbol closed together (a catch-up) and may share
            # a higher bucket; with one minute per symbol every rolled-up key is unique.
            rolled = _candles.merge([rolled])
        open_higher = _candles.absorb(open_higher, rolled)
    closed_higher, open_higher = _candles.split_closed(open_higher, horizon, grace)
    return Candles.concat([closed_1m, closed_higher]), open_1m, open_higher
