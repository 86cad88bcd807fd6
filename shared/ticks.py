"""Columnar tick batches: the unit ticks travel in, from the feeds through the engine into the
stores."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl

from shared.contracts import TickMsg


@dataclass(frozen=True, slots=True)
class TickBatch:
    """Ticks as parallel arrays: symbol (str objects), ts_ns (int64 UTC epoch ns), price, qty."""

    symbol: np.ndarray
    ts_ns: np.ndarray
    price: np.ndarray
    qty: np.ndarray

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])

    @classmethod
    def empty(cls) -> TickBatch:
        return cls(
            np.empty(0, dtype=object),
            np.empty(0, dtype=np.int64),
            np.empty(0, dtype=np.float64),
            np.empty(0, dtype=np.float64),
        )

    @classmethod
    def from_ticks(cls, ticks: Iterable[TickMsg]) -> TickBatch:
        items = list(ticks)
        return cls(
            np.array([t.symbol for t in items], dtype=object),
            np.array([_to_ns(t.ts) for t in items], dtype=np.int64),
            np.array([t.price for t in items], dtype=np.float64),
            np.array([t.qty for t in items], dtype=np.float64),
        )

    @classmethod
    def from_polars(cls, df: pl.DataFrame) -> TickBatch:
        """From a frame with columns symbol, ts (datetime UTC or int ns), price, qty."""
        ts = df["ts"]
        ts_ns = (
            ts.dt.cast_time_unit("ns").dt.epoch("ns").to_numpy()
            if ts.dtype != pl.Int64
            else ts.to_numpy()
        )
        return cls(
            df["symbol"].to_numpy().astype(object),
            np.asarray(ts_ns, dtype=np.int64),
            df["price"].to_numpy().astype(np.float64),
            df["qty"].to_numpy().astype(np.float64),
        )

    def to_polars(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "symbol": pl.Series(self.symbol, dtype=pl.String),
                "ts": pl.Series(self.ts_ns, dtype=pl.Int64).cast(pl.Datetime("ns", "UTC")),
                "price": self.price,
                "qty": self.qty,
            }
        )

    def to_msgs(self) -> list[TickMsg]:
        return [
            TickMsg(
                symbol=str(s),
                ts=datetime.fromtimestamp(int(t) / 1e9, tz=UTC),
                price=float(p),
                qty=float(q),
            )
            for s, t, p, q in zip(self.symbol, self.ts_ns, self.price, self.qty, strict=True)
        ]

    @classmethod
    def of_symbol(
        cls, symbol: str, ts_ns: np.ndarray, price: np.ndarray, qty: np.ndarray
    ) -> TickBatch:
        """A batch of one symbol (the symbol column repeated)."""
        symbols = np.empty(ts_ns.shape[0], dtype=object)
        symbols[:] = symbol
        return cls(symbols, ts_ns, price, qty)

    def select(self, mask: np.ndarray) -> TickBatch:
        return TickBatch(self.symbol[mask], self.ts_ns[mask], self.price[mask], self.qty[mask])

    @staticmethod
    def concat(batches: Iterable[TickBatch]) -> TickBatch:
        items = [b for b in batches if len(b)]
        if not items:
            return TickBatch.empty()
        return TickBatch(
            np.concatenate([b.symbol for b in items]),
            np.concatenate([b.ts_ns for b in items]),
            np.concatenate([b.price for b in items]),
            np.concatenate([b.qty for b in items]),
        )


def _to_ns(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError("tick timestamps must be timezone-aware")
    delta = ts.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
