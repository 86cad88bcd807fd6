"""The engine reads the exchange calendars while it starts, not in its first check."""

from __future__ import annotations

from shared import calendar
from tests.api_gateway.conftest import settings_for
from tests.order_processor.walk_orders import processor_env


async def test_the_calendars_are_read_before_the_engine_takes_work(request, tmp_path):
    """The first read of the calendars imports pandas_market_calendars (about a second of
    CPU); done in the square-off check, it stalled the event loop in the middle of a burst
    of orders. The engine reads them in a thread before it takes its partitions."""
    calendar._nse_holidays.cache_clear()
    calendar._us_sessions.cache_clear()
    settings = settings_for("sqlite", request, tmp_path)

    async with processor_env(settings) as env:
        assert env.engine.ownership.owned  # working
        assert calendar._nse_holidays.cache_info().currsize == 1
        assert calendar._us_sessions.cache_info().currsize == 1
