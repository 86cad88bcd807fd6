from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from analytics_service.alerts.channels import safe_http
from shared.alerts import AlertKind, AlertMessage, Severity
from shared.config import Settings

PUBLIC_IP = "93.184.215.14"  # any global address: nothing connects to it in these tests


@pytest.fixture
def loopback_settings() -> Settings:
    """Loopback receivers allowed (the test setting), short timeouts, a small response cap."""
    return Settings(
        _env_file=None,
        alerts_allow_loopback=True,
        alerts_http_connect_timeout_seconds=2.0,
        alerts_http_read_timeout_seconds=0.5,
        alerts_http_max_response_bytes=4096,
        alerts_smtp_timeout_seconds=5.0,
    )


@pytest.fixture
def default_settings() -> Settings:
    return Settings(_env_file=None)


@pytest.fixture
def hosts() -> Iterator[Callable[[dict[str, list[str]]], None]]:
    """Install a hosts file of the test's own as the resolver: ``hosts({"a.test": [ip]})``.

    Names not in it go to the system resolver (``localhost`` really resolves)."""
    table: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return table[host]
        return safe_http.system_resolve(host, port)

    with safe_http.use_resolver(resolve):
        yield table.update


def make_alert(**overrides: object) -> AlertMessage:
    values: dict[str, object] = {
        "alert_id": "al_0001",
        "user_id": 7,
        "alert_kind": AlertKind.ORDER_FILLED,
        "severity": Severity.WARNING,
        "title": "BUY 10 RELIANCE filled at 2,950.50",
        "body": "Order ord_42 is filled: 10 @ 2,950.50 on paper account Main.",
        "data": {"order_id": "ord_42", "symbol": "RELIANCE", "price": "2950.50"},
        "created_at": datetime(2026, 12, 4, 9, 20, 5, tzinfo=UTC),
    }
    values.update(overrides)
    return AlertMessage.model_validate(values)
