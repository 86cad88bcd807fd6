"""The market data engine's metrics: ticks per feed, rejected ticks, candles and their lag."""

from __future__ import annotations

from prometheus_client import REGISTRY

from shared.tickstore import create_tickstore
from tests.market_data_engine.test_service import _run_feed, _service


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_ticks_and_closed_candles_are_counted_per_feed():
    service = _service(create_tickstore("local"))
    feed = service.feed.name
    ticks_before = _value("algotrade_ticks_total", feed=feed)
    candles_before = _value("algotrade_candles_closed_total", feed=feed, timeframe="1m")

    await _run_feed(service)

    assert _value("algotrade_ticks_total", feed=feed) - ticks_before == service.ticks_in
    closed = _value("algotrade_candles_closed_total", feed=feed, timeframe="1m") - candles_before
    assert closed >= 1
    lag = REGISTRY.get_sample_value(
        "algotrade_candle_close_lag_seconds", {"feed": feed, "timeframe": "1m"}
    )
    assert lag is not None
