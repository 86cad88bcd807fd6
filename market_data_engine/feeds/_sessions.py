"""Which of a feed's symbols are trading at a given instant, and until when."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from market_data_engine.feeds._time import from_ns, to_ns
from shared.calendar import AlwaysOpenCalendar, Calendar
from shared.instruments import InstrumentCatalog


class SessionGate:
    """Answers "which symbols are open at t, and when does that change?" for a symbol list.

    Symbols are grouped by calendar; each group's answer is cached until its next session
    boundary, so asking once per batch costs a comparison, not a calendar lookup.
    """

    def __init__(
        self, catalog: InstrumentCatalog, symbols: Sequence[str], *, around_the_clock: bool
    ) -> None:
        groups: dict[int, tuple[Calendar, list[int]]] = {}
        for i, sym in enumerate(symbols):
            cal = catalog.calendar(sym)
            if around_the_clock or isinstance(cal, AlwaysOpenCalendar):
                cal = _ALWAYS_OPEN
            groups.setdefault(id(cal), (cal, []))[1].append(i)
        self._groups = [(cal, np.array(idx, dtype=np.int64)) for cal, idx in groups.values()]
        # Per group: (open?, valid_from_ns, valid_until_ns); until is None for "forever".
        self._cache: list[tuple[bool, int, int | None] | None] = [None] * len(self._groups)
        self.always_open = all(cal is _ALWAYS_OPEN for cal, _ in self._groups)

    def open_at(self, t_ns: int) -> tuple[np.ndarray, int | None]:
        """Indices of the symbols open at ``t_ns`` and the next instant the set may change."""
        parts: list[np.ndarray] = []
        change: int | None = None
        for g, (cal, idx) in enumerate(self._groups):
            is_open, until = self._state(g, cal, t_ns)
            if is_open:
                parts.append(idx)
            if until is not None:
                change = until if change is None else min(change, until)
        if not parts:
            return np.empty(0, dtype=np.int64), change
        open_idx = parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts))
        return open_idx, change

    def _state(self, g: int, cal: Calendar, t_ns: int) -> tuple[bool, int | None]:
        cached = self._cache[g]
        if cached is not None:
            is_open, since, until = cached
            if since <= t_ns and (until is None or t_ns < until):
                return is_open, until
        state = _session_state(cal, t_ns)
        self._cache[g] = (state[0], t_ns, state[1])
        return state


def _session_state(cal: Calendar, t_ns: int) -> tuple[bool, int | None]:
    if isinstance(cal, AlwaysOpenCalendar):
        return True, None
    ts = from_ns(t_ns)
    if cal.is_open(ts):
        bounds = cal.session_bounds(ts.astimezone(cal.tz).date())
        assert bounds is not None  # is_open implies a session today
        return True, to_ns(bounds[1])
    return False, to_ns(cal.next_open(ts))


_ALWAYS_OPEN = AlwaysOpenCalendar()
