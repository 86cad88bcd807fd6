"""The ``status`` channel: each exchange's market status (``MarketStatusMsg``).

A client that subscribes gets the current status of every exchange at once, read
from the calendars here; after that, the market data engine's announcements on
``md:status`` arrive as each market opens or closes.
"""

from __future__ import annotations

from datetime import datetime

import orjson

from shared.bus import encode
from shared.instruments import load_catalog
from shared.market_status import exchanges_of, statuses
from websocket_service.channels import STATUS


def snapshot_frames(now: datetime) -> list[str]:
    """One ``status`` frame per exchange of the catalog, describing ``now``."""
    channel = orjson.dumps(STATUS).decode()
    return [
        '{"channel":' + channel + ',"data":' + encode(msg).decode() + "}"
        for msg in statuses(exchanges_of(load_catalog()), now)
    ]


def warm() -> None:
    """Load the catalog and the calendars' holiday lists (seconds of CPU, done once)."""
    snapshot_frames(datetime.now().astimezone())
