"""A fresh embedded platform started on a weekend: history, a quote and a chart at once.

The one-process app (``algotrade run``) is built and started in this process with a clock
stopped on the coming Saturday (ahead of the wall clock, which signed tokens are checked
against): NSE is closed, so every NSE price comes from the history the simulated feed
writes before it goes live.
"""

from __future__ import annotations

import asyncio
import gc
import time as timer
from datetime import UTC, datetime, time, timedelta

import httpx

from algotrade.runner import build_embedded_app
from shared.clock import EventClock
from tests.api_gateway.conftest import settings_for
from tests.api_gateway.factories import make_trader

R = "/api/v1"


def _coming_saturday() -> datetime:
    """12:05:12 UTC on the first Saturday at least a day from now."""
    day = datetime.now(UTC).date() + timedelta(days=1)
    day += timedelta(days=(5 - day.weekday()) % 7)
    return datetime.combine(day, time(12, 5, 12), UTC)


async def test_a_fresh_start_on_a_weekend_answers_with_history_a_quote_and_a_chart(
    request, tmp_path
):
    settings = settings_for("sqlite", request, tmp_path, data_dir=tmp_path / "data")
    saturday = _coming_saturday()
    monday = saturday + timedelta(days=2)
    began = timer.monotonic()
    app = await asyncio.to_thread(build_embedded_app, settings, clock=EventClock(saturday))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
                trader = await make_trader(client)
                h = trader.headers
                daily = await client.get(
                    f"{R}/market/candles",
                    headers=h,
                    params={"symbol": "RELIANCE", "timeframe": "1d", "limit": 100},
                )
                quote = await client.get(
                    f"{R}/market/quotes", headers=h, params={"symbols": "RELIANCE"}
                )
                chart = await client.get(
                    f"{R}/market/candles",
                    headers=h,
                    params={"symbol": "RELIANCE", "timeframe": "5m", "limit": 300},
                )
                status = await client.get(
                    f"{R}/market/status", headers=h, params={"exchange": "NSE"}
                )
            answered = timer.monotonic() - began
    finally:
        gc.unfreeze()  # the runner freezes the start-up heap; give this process its own back

    assert answered < 60
    assert daily.status_code == 200 and len(daily.json()["candles"]) >= 20
    [reliance] = quote.json()
    assert reliance["price"] is not None and reliance["prev_close"] is not None
    assert reliance["change_pct"] is not None and reliance["market_open"] is False
    assert len(chart.json()["candles"]) == 300
    assert status.json()[0]["message"] == (
        f"NSE is closed (weekend); it opens {monday:%a %d %b} 09:15 IST"
    )
