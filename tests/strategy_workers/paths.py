"""Factories for the strategy tests: constructed price paths as windows and candle messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from shared.contracts import CandleMsg, Timeframe
from strategy_workers.strategies import CandleWindow, Signal, Strategy
from strategy_workers.strategies.base import to_ns

BAR = timedelta(minutes=5)
T0 = datetime(2024, 1, 1, 3, 45, tzinfo=UTC)  # 09:15 IST


def window(
    closes: np.ndarray | list[float],
    *,
    spread: float = 0.5,
    symbol: str = "INFY",
    timeframe: Timeframe = Timeframe.M5,
    volume: float = 1000.0,
) -> CandleWindow:
    """Candles opening at the previous close, with ``spread`` of range beyond the body."""
    close = np.asarray(closes, dtype=np.float64)
    open_ = np.concatenate(([close[0]], close[:-1]))
    start_ns = int(T0.timestamp()) * 1_000_000_000
    ts = start_ns + np.arange(len(close), dtype=np.int64) * int(BAR.total_seconds()) * 10**9
    return CandleWindow(
        symbol,
        timeframe,
        ts,
        open_,
        np.maximum(open_, close) + spread,
        np.minimum(open_, close) - spread,
        close,
        np.full(len(close), volume),
    )


def candle_at(w: CandleWindow, index: int) -> CandleMsg:
    """The closed-candle message of bar ``index`` of ``w``."""
    start = datetime.fromtimestamp(int(w.ts[index]) / 1e9, tz=UTC)
    return CandleMsg(
        symbol=w.symbol,
        timeframe=w.timeframe,
        start=start,
        end=start + BAR,
        open=float(w.open[index]),
        high=float(w.high[index]),
        low=float(w.low[index]),
        close=float(w.close[index]),
        volume=float(w.volume[index]),
        trades=10,
    )


def signals_by_bar(strategy: Strategy, w: CandleWindow) -> dict[int, list[Signal]]:
    """Walk ``w`` bar by bar as live evaluation would; the bars where the strategy spoke."""
    out: dict[int, list[Signal]] = {}
    for end in range(strategy.warmup, len(w) + 1):
        signals = strategy.evaluate(w.until(int(w.ts[end - 1])).tail(strategy.warmup))
        if signals:
            out[end - 1] = signals
    return out


def actions(found: dict[int, list[Signal]]) -> list[str]:
    return [s.action.value for bar in sorted(found) for s in found[bar]]


def calm(n: int, level: float = 100.0, amplitude: float = 0.6) -> np.ndarray:
    """A sideways market: a small, fast oscillation around ``level``."""
    return level + np.sin(np.arange(n) * 0.7) * amplitude


def v_shape(down: int = 60, up: int = 40, top: float = 110.0, bottom: float = 100.0) -> np.ndarray:
    """A straight decline followed by a straight rise."""
    return np.concatenate([np.linspace(top, bottom, down), np.linspace(bottom, top, up + 1)[1:]])


class WindowStore:
    """A window provider over in-memory candles (the task layer's store, minus the database)."""

    def __init__(self, *windows: CandleWindow) -> None:
        self.windows = {(w.symbol, w.timeframe): w for w in windows}

    def __call__(
        self, symbol: str, timeframe: Timeframe, bars: int, until: datetime
    ) -> CandleWindow | None:
        w = self.windows.get((symbol, timeframe))
        return None if w is None else w.until(to_ns(until)).tail(bars)
