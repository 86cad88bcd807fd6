"""The simulated market: a vectorised geometric random walk on each instrument's tick grid."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from market_data_engine.ticks import TickBatch
from shared.instruments import Instrument, snap_to_grid

DAY_S = 86_400.0
_IST_OFFSET_S = 19_800
_OPEN_S, _CLOSE_S = 9 * 3600 + 15 * 60, 15 * 3600 + 30 * 60

# Median notional of one trade, by quote currency: a few tens of thousands of rupees on NSE
# cash, a few hundred USDT on Binance spot, a few thousand dollars on US venues.
_TRADE_NOTIONAL = {"INR": 30_000.0, "USDT": 500.0, "USD": 5_000.0}
_TRADE_SIZE_SIGMA = 1.1  # lognormal spread of trade sizes: many small prints, a fat tail


class RandomWalkModel:
    """Prices and trade sizes for a fixed list of instruments, driven by one numpy Generator.

    Each tick moves its symbol's log price by N(0, sigma), with sigma scaled so that a
    session of ticks at the configured rate has the instrument's daily volatility. The
    unrounded price is the state; what is emitted is snapped to the tick grid, so prices
    stick on a level for a while at high tick rates, as real prints do.
    """

    def __init__(
        self,
        instruments: Sequence[Instrument],
        *,
        rate: float,
        rng: np.random.Generator,
        session_s: Sequence[float],
        u_shape: Sequence[bool],
        start_prices: Sequence[float] | None = None,
    ) -> None:
        n = len(instruments)
        self._rng = rng
        self.symbols = np.array([i.symbol for i in instruments], dtype=object)
        self._tick = np.array([float(i.tick_size) for i in instruments])
        self._lot = np.array([float(i.lot_size) for i in instruments])
        first = start_prices if start_prices is not None else [i.ref_price for i in instruments]
        self._log_price: np.ndarray = np.log(np.array([float(p) for p in first]))
        per_symbol_rate = rate / n
        vol = np.array([i.daily_vol for i in instruments])
        self._sigma: np.ndarray = vol / np.sqrt(
            per_symbol_rate * np.asarray(session_s, dtype=np.float64)
        )
        notional = np.array([_TRADE_NOTIONAL.get(i.currency, 1_000.0) for i in instruments])
        self._log_lots: np.ndarray = np.log(notional / self._lot)
        self._u_shape = np.asarray(u_shape, dtype=bool)

    def last_prices(self) -> np.ndarray:
        """The current unrounded price of every instrument."""
        prices: np.ndarray = np.exp(self._log_price)
        return prices

    def generate(self, t0_ns: int, t1_ns: int, n: int, open_idx: np.ndarray) -> TickBatch:
        """``n`` sorted ticks in ``[t0_ns, t1_ns)`` for symbols drawn from ``open_idx``."""
        rng = self._rng
        pick = open_idx[rng.integers(0, len(open_idx), n)]
        # One tick per equal slice of the span, jittered inside it: sorted without a sort.
        step = (t1_ns - t0_ns) / n
        ts = t0_ns + ((np.arange(n) + rng.random(n)) * step).astype(np.int64)
        shocks = rng.standard_normal(n) * self._sigma[pick]
        log_price = self._walk(pick, shocks)
        tick = self._tick[pick]
        price = np.maximum(snap_to_grid(np.exp(log_price), tick), tick)
        qty = self._sizes(pick, ts, rng.standard_normal(n))
        return TickBatch(self.symbols[pick], ts, price, qty)

    def _walk(self, pick: np.ndarray, shocks: np.ndarray) -> np.ndarray:
        """Per-symbol running sums of the shocks, in time order, added to each symbol's state."""
        # Stable argsort of small integers is a radix sort in numpy: ~10x faster than on int64.
        keys = pick.astype(np.int16) if len(self._tick) < 32_768 else pick
        order = np.argsort(keys, kind="stable")
        sym = pick[order]
        csum = np.cumsum(shocks[order])
        starts = np.flatnonzero(np.r_[True, sym[1:] != sym[:-1]])
        lengths = np.diff(np.r_[starts, len(sym)])
        before = np.r_[0.0, csum][starts]  # running total just before each symbol's group
        walked = self._log_price[sym] + csum - np.repeat(before, lengths)
        ends = starts + lengths - 1
        self._log_price[sym[ends]] = walked[ends]
        out: np.ndarray = np.empty_like(walked)
        out[order] = walked
        return out

    def _sizes(self, pick: np.ndarray, ts: np.ndarray, z: np.ndarray) -> np.ndarray:
        log_lots = self._log_lots[pick] - np.log(self._last_price_of(pick))
        if self._u_shape.any():
            log_lots = log_lots + np.log(_intraday_activity(ts)) * self._u_shape[pick]
        lots = np.exp(log_lots + _TRADE_SIZE_SIGMA * z)
        lots = np.maximum(1.0, np.rint(lots))
        qty: np.ndarray = np.round(lots * self._lot[pick], 10)
        return qty

    def _last_price_of(self, pick: np.ndarray) -> np.ndarray:
        prices: np.ndarray = np.exp(self._log_price[pick])
        return prices


def _intraday_activity(ts_ns: np.ndarray) -> np.ndarray:
    """NSE's U-shaped activity: trades are larger just after the open and before the close."""
    sod = ((ts_ns // 1_000_000_000) + _IST_OFFSET_S) % 86_400
    after_open = np.maximum(sod - _OPEN_S, 0) * (1 / 1200.0)  # in units of 20 minutes
    before_close = np.maximum(_CLOSE_S - sod, 0) * (1 / 1200.0)
    activity: np.ndarray = 1.0 + 1.5 * np.exp(-after_open) + 1.0 * np.exp(-before_close)
    return activity
