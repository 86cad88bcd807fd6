"""The tick store: ticks and closed candles, on InfluxDB (distributed) or in process (embedded).

``create_tickstore("influx", url=..., database=...)`` or ``create_tickstore("local", path=...)``;
``tickstore_from_settings(settings)`` picks the adapter from the profile.
"""

from __future__ import annotations

from typing import Any

from shared.tickstore._influx_http import TickStoreQueryError
from shared.tickstore.base import (
    DEFAULT_QUERY_LIMIT,
    TickColumns,
    TickStore,
    TickStoreUnavailable,
    from_ns,
    to_ns,
)
from shared.tickstore.influx import InfluxTickStore
from shared.tickstore.local import LocalTickStore

__all__ = [
    "DEFAULT_QUERY_LIMIT",
    "InfluxTickStore",
    "LocalTickStore",
    "TickColumns",
    "TickStore",
    "TickStoreQueryError",
    "TickStoreUnavailable",
    "create_tickstore",
    "from_ns",
    "tickstore_from_settings",
    "to_ns",
]

KINDS = ("influx", "local")


def create_tickstore(kind: str, **params: Any) -> TickStore:
    """A tick store adapter by name: ``influx`` (InfluxTickStore) or ``local`` (LocalTickStore)."""
    if kind == "influx":
        return InfluxTickStore(**params)
    if kind == "local":
        return LocalTickStore(**params)
    raise ValueError(f"unknown tick store kind {kind!r}; expected one of {', '.join(KINDS)}")


def tickstore_from_settings(settings: Any, **overrides: Any) -> TickStore:
    """InfluxDB in the distributed profile, local (under ``data_dir/ticks``) in the embedded one."""
    if str(settings.profile) == "distributed":
        secret = settings.influx_password
        token = settings.influx_token
        params: dict[str, Any] = {
            "url": settings.influx_url,
            "database": settings.influx_database,
            "username": settings.influx_username,
            "password": secret.get_secret_value() if secret is not None else None,
            "token": token.get_secret_value() if token is not None else None,
            "latest_ttl": settings.latest_tick_ttl_seconds,
        }
        return create_tickstore("influx", **{**params, **overrides})
    params = {
        "path": settings.data_dir / "ticks",
        "max_candles_per_series": settings.local_candles_per_series,
    }
    return create_tickstore("local", **{**params, **overrides})
