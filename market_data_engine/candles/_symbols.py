"""Dense integer ids for symbols, their calendars' session tables, watermarks and counters."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from itertools import repeat

import numpy as np

from market_data_engine.candles.buckets import TIMEFRAMES, SessionCalendar, SessionTable
from shared.contracts import candle_channel

NO_TIME = np.iinfo(np.int64).min


class SymbolRegistry:
    """Maps symbols to ids on first sight and keeps per-symbol arrays indexed by id.

    Symbols whose calendars are equal share one session table (per batch, each
    table is one vectorised lookup), even when a resolver builds a new calendar
    object per symbol.
    """

    def __init__(self, resolve: Callable[[str], SessionCalendar]) -> None:
        self._resolve = resolve
        self.ids: dict[str, int] = {}
        self.names: list[str] = []
        self.name_array = np.empty(0, dtype=object)  # names as an array, for gathers by id
        # channels[sid, tf]: the bus channel of the symbol's candles of each timeframe, made
        # once so that a burst of closes looks them up with one gather.
        self.channels = np.empty((0, len(TIMEFRAMES)), dtype=object)
        self.tables: list[SessionTable] = []
        self._table_index: dict[Hashable, int] = {}  # calendar key -> index in tables
        self.table_of = np.empty(0, dtype=np.int32)
        self.watermark = np.empty(0, dtype=np.int64)  # max event time seen per symbol
        self.accepted = np.empty(0, dtype=np.int64)
        self.late = np.empty(0, dtype=np.int64)
        self.out_of_session = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.names)

    def ids_of(self, symbols: np.ndarray) -> np.ndarray:
        """Ids of ``symbols`` (registering new ones); -1 where no calendar is known."""
        n = symbols.shape[0]
        try:
            return np.fromiter(map(self.ids.__getitem__, symbols), dtype=np.int32, count=n)
        except KeyError:
            pass
        self._register(sorted(set(symbols.tolist()) - self.ids.keys()))
        return np.fromiter(map(self.ids.get, symbols, repeat(-1)), dtype=np.int32, count=n)

    def _register(self, names: list[str]) -> None:
        tables: list[int] = []
        for name in names:
            try:
                calendar = self._resolve(name)
            except LookupError:
                continue  # unknown symbol: its ticks are counted and dropped; asked again next time
            key = _calendar_key(calendar)
            if key not in self._table_index:
                self._table_index[key] = len(self.tables)
                # The table holds the calendar, so an id() key cannot be reused by another object.
                self.tables.append(SessionTable(calendar))
            self.ids[name] = len(self.names)
            self.names.append(name)
            tables.append(self._table_index[key])
        if not tables:
            return
        added = len(tables)
        new = self.names[-added:]
        self.name_array = np.concatenate([self.name_array, np.array(new, dtype=object)])
        channels = np.empty((added, len(TIMEFRAMES)), dtype=object)
        channels[:] = [[candle_channel(name, tf) for tf in TIMEFRAMES] for name in new]
        self.channels = np.concatenate([self.channels, channels])
        self.table_of = np.concatenate([self.table_of, np.array(tables, dtype=np.int32)])
        self.watermark = np.concatenate([self.watermark, np.full(added, NO_TIME, dtype=np.int64)])
        self.accepted = np.concatenate([self.accepted, np.zeros(added, dtype=np.int64)])
        self.late = np.concatenate([self.late, np.zeros(added, dtype=np.int64)])
        self.out_of_session = np.concatenate([self.out_of_session, np.zeros(added, dtype=np.int64)])

    def sessions(
        self, sid: np.ndarray, ts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each tick: inside its symbol's session?, and that session's open and close (ns)."""
        if len(self.tables) == 1:
            return self.tables[0].lookup(ts)
        table = self.table_of[sid]
        inside = np.zeros(ts.shape[0], dtype=bool)
        s_open = np.zeros(ts.shape[0], dtype=np.int64)
        s_close = np.zeros(ts.shape[0], dtype=np.int64)
        for index in np.flatnonzero(np.bincount(table, minlength=len(self.tables))):
            mask = table == index
            inside[mask], s_open[mask], s_close[mask] = self.tables[index].lookup(ts[mask])
        return inside, s_open, s_close


def _calendar_key(calendar: SessionCalendar) -> Hashable:
    """Equal for calendars of one class with equal settings, else the object's identity."""
    try:
        settings = tuple(sorted(vars(calendar).items()))
        hash(settings)
    except TypeError:  # no __dict__, or settings that cannot be hashed
        return id(calendar)
    return (type(calendar), settings)
