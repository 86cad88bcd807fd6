"""The strategy plug-in API: candle windows in, signals out.

A strategy is a class with a name, a description, a pydantic parameter model,
the timeframes it supports and a ``warmup``; its ``evaluate`` is a pure
function of the last ``warmup`` closed candles. Live evaluation and the
backtester call the same method on the same window shape.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from shared.contracts import CandleMsg, SignalAction, Timeframe
from strategy_workers.indicators import FloatArray, IntArray
from strategy_workers.titles import field_title

ALL_TIMEFRAMES: frozenset[Timeframe] = frozenset(Timeframe)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ns(moment: datetime) -> int:
    """Integer nanoseconds since the epoch (exact, no float); a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


@dataclass(frozen=True, slots=True, eq=False)
class CandleWindow:
    """The last closed candles of one (symbol, timeframe), oldest first.

    ``ts`` holds each candle's start as int64 nanoseconds since the epoch (UTC).
    """

    symbol: str
    timeframe: Timeframe
    ts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return len(self.close)

    def tail(self, bars: int) -> CandleWindow:
        """The last ``bars`` candles (views, no copy)."""
        if bars >= len(self.close):
            return self
        start = len(self.close) - bars
        return self._slice(start, len(self.close))

    def until(self, start_ns: int) -> CandleWindow:
        """The candles that started at or before ``start_ns``."""
        if not len(self.ts) or self.ts[-1] <= start_ns:
            return self  # the usual live case: nothing newer to cut
        return self._slice(0, int(self.ts.searchsorted(start_ns, side="right")))

    def _slice(self, start: int, stop: int) -> CandleWindow:
        return CandleWindow(
            self.symbol,
            self.timeframe,
            self.ts[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
            self.volume[start:stop],
        )

    @classmethod
    def ending_with(cls, history: CandleWindow | None, candle: CandleMsg) -> CandleWindow:
        """``history`` cut back to ``candle`` and ending with it (appended if missing).

        Cutting makes a re-run of an old candle see what the first run saw;
        appending covers a store that has not yet written the candle it announced.
        """
        start = to_ns(candle.start)
        window = history.until(start) if history is not None else None
        if window is not None and len(window) and int(window.ts[-1]) == start:
            return window
        last = cls.from_candles([candle])
        if window is None or not len(window):
            return last
        return cls(
            candle.symbol,
            candle.timeframe,
            *(
                np.concatenate((getattr(window, name), getattr(last, name)))
                for name in ("ts", "open", "high", "low", "close", "volume")
            ),
        )

    @classmethod
    def from_candles(cls, candles: Sequence[CandleMsg]) -> CandleWindow:
        """Build a window from candle messages of one (symbol, timeframe), oldest first."""
        if not candles:
            raise ValueError("a candle window needs at least one candle")
        first = candles[0]
        return cls(
            first.symbol,
            first.timeframe,
            np.array([to_ns(c.start) for c in candles], dtype=np.int64),
            np.array([c.open for c in candles], dtype=np.float64),
            np.array([c.high for c in candles], dtype=np.float64),
            np.array([c.low for c in candles], dtype=np.float64),
            np.array([c.close for c in candles], dtype=np.float64),
            np.array([c.volume for c in candles], dtype=np.float64),
        )


@dataclass(frozen=True, slots=True)
class Signal:
    """What a strategy says about the last bar of its window."""

    action: SignalAction
    confidence: float
    stop: float | None = None
    target: float | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within 0..1, got {self.confidence}")


class StrategyParams(BaseModel):
    """Base of every parameter model: immutable, unknown fields refused, human field titles."""

    model_config = ConfigDict(extra="forbid", frozen=True, field_title_generator=field_title)


P = TypeVar("P", bound=StrategyParams)


class Strategy(ABC, Generic[P]):
    """A trading rule bound to validated parameters.

    Subclasses set ``name``, ``description``, ``params_model`` and optionally
    ``title`` (the catalog's label; else made from the name) and ``timeframes``,
    implement ``warmup`` and ``evaluate``, and register with
    :func:`strategy_workers.strategies.registry.register`.
    """

    name: ClassVar[str]
    title: ClassVar[str] = ""
    description: ClassVar[str]
    params_model: ClassVar[type[StrategyParams]]
    timeframes: ClassVar[frozenset[Timeframe]] = ALL_TIMEFRAMES

    def __init__(self, params: P) -> None:
        self.params = params

    @classmethod
    def params_schema(cls) -> dict[str, Any]:
        """JSON Schema of the parameters, with bounds and defaults, for forms."""
        return cls.params_model.model_json_schema()

    @property
    @abstractmethod
    def warmup(self) -> int:
        """Bars the strategy reads; the evaluator hands it exactly the last ``warmup`` bars."""

    @abstractmethod
    def evaluate(self, window: CandleWindow) -> list[Signal]:
        """Signals for the last bar of ``window``; pure (same window, same answer)."""

    def scan(self, history: CandleWindow) -> IntArray | None:
        """Indices of the bars of ``history`` on which ``evaluate`` may signal, or None.

        The backtester calls ``evaluate`` (on the last ``warmup`` bars, as live does)
        only on these bars, so the answer must be a superset of the bars that signal.
        A strategy whose rule vectorises over the whole history narrows it here; the
        default None means every bar must be evaluated.
        """
        return None
