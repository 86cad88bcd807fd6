"""Binance spot public trade stream: URLs, subscription frames and trade decoding.

A trade event (raw ``/ws`` endpoint) looks like::

    {"e": "trade", "E": 1672515782136, "s": "BNBBTC", "t": 12345, "p": "0.001",
     "q": "100", "T": 1672515782136, "m": true, "M": true}

On the combined endpoint (``/stream?streams=a@trade/b@trade``) each event is wrapped as
``{"stream": "bnbbtc@trade", "data": {...}}``. ``T`` (trade time, ms) is the tick time;
``t`` (trade id) rises per symbol and is used to drop duplicates after a reconnect.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import orjson

from market_data_engine.ticks import TickBatch


def stream_names(symbols: Sequence[str]) -> list[str]:
    """Binance stream names for the trade streams of ``symbols`` (lower case by protocol)."""
    return [f"{s.lower()}@trade" for s in symbols]


def combined_url(base_url: str, symbols: Sequence[str]) -> str:
    """The combined-stream URL that subscribes to every symbol's trades on connect."""
    return f"{base_url.rstrip('/')}/stream?streams={'/'.join(stream_names(symbols))}"


def raw_url(base_url: str) -> str:
    """The raw endpoint, to which streams are added with SUBSCRIBE frames."""
    return f"{base_url.rstrip('/')}/ws"


def subscribe_frame(symbols: Sequence[str], request_id: int) -> str:
    """A SUBSCRIBE request for the trade streams of ``symbols``."""
    payload = {"method": "SUBSCRIBE", "params": stream_names(symbols), "id": request_id}
    return orjson.dumps(payload).decode()


class TradeDecoder:
    """Accumulates trade frames and hands them over as one ``TickBatch``.

    Frames that are not trades (subscription acknowledgements, other event types) are
    ignored; malformed ones are counted, never raised.
    """

    def __init__(self) -> None:
        self._symbols: list[str] = []
        self._ts: list[int] = []
        self._price: list[float] = []
        self._qty: list[float] = []
        self._last_id: dict[str, int] = {}
        self.decode_errors = 0
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self._ts)

    def add(self, frame: str | bytes) -> bool:
        """Decode one frame; True if it added a tick."""
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError:
            self.decode_errors += 1
            return False
        data = msg.get("data", msg) if isinstance(msg, dict) else None
        if not isinstance(data, dict) or data.get("e") != "trade":
            return False
        try:
            symbol = str(data["s"])
            trade_id = int(data["t"])
            ts_ms = int(data["T"])
            price = float(data["p"])
            qty = float(data["q"])
        except (KeyError, TypeError, ValueError):
            self.decode_errors += 1
            return False
        if trade_id <= self._last_id.get(symbol, -1):
            self.duplicates += 1  # already seen on an earlier connection
            return False
        self._last_id[symbol] = trade_id
        self._symbols.append(symbol)
        self._ts.append(ts_ms * 1_000_000)
        self._price.append(price)
        self._qty.append(qty)
        return True

    def flush(self) -> TickBatch:
        """Everything decoded since the last flush."""
        batch = TickBatch(
            np.array(self._symbols, dtype=object),
            np.array(self._ts, dtype=np.int64),
            np.array(self._price, dtype=np.float64),
            np.array(self._qty, dtype=np.float64),
        )
        self._symbols, self._ts, self._price, self._qty = [], [], [], []
        return batch
