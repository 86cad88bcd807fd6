"""Generic JSON webhook: the AlertMessage as JSON, signed with the channel's secret.

Headers on every delivery:

- ``X-Algotrade-Alert-Id``: the alert id, the same on every retry (drop duplicates by it);
- ``X-Algotrade-Timestamp``: Unix time in seconds when this attempt was signed;
- ``X-Algotrade-Signature``: hex HMAC-SHA256, keyed with the secret's UTF-8 bytes, over
  ``f"{timestamp}.{body}"`` (the timestamp, a dot, the raw body bytes).

A receiver recomputes the signature over the raw body it got, compares in constant time and
refuses a timestamp older than a few minutes (a replayed request). See
docs/alerts-channels.md for a receiver in a few lines.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import Field

from analytics_service.alerts.channels import safe_http
from analytics_service.alerts.channels._config import ChannelConfig, check_destination_url, parse
from analytics_service.alerts.channels._format import printable
from shared.alerts import AlertMessage
from shared.config import Settings

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
USER_AGENT = "Algotrade-Alerts/1"


class WebhookConfig(ChannelConfig):
    url: str = Field(min_length=1, max_length=2048)
    secret: str = Field(min_length=16, max_length=256)


def new_secret() -> str:
    """A fresh signing secret (256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over ``f"{timestamp}.{body}"`` keyed with ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return mac.hexdigest()


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    tolerance_seconds: float = 300.0,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` is ours for this body and timestamp, and the timestamp recent."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature.strip().lower())


def validate(config: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    values = dict(config)
    if not values.get("secret"):
        values["secret"] = new_secret()
    parsed = parse(WebhookConfig, values)
    check_destination_url("url", parsed.url, settings)
    return parsed.model_dump()


async def send(
    config: Mapping[str, Any],
    message: AlertMessage,
    settings: Settings,
    client: httpx.AsyncClient | None,
) -> None:
    parsed = parse(WebhookConfig, config)
    body = message.model_dump_json().encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "Accept-Encoding": "identity",
        "User-Agent": USER_AGENT,
        "X-Algotrade-Alert-Id": message.alert_id,
        "X-Algotrade-Timestamp": timestamp,
        "X-Algotrade-Signature": sign(parsed.secret, timestamp, body),
    }
    response = await safe_http.post(
        parsed.url, content=body, headers=headers, settings=settings, client=client
    )
    safe_http.raise_for_status(
        response, what="the webhook", detail=printable(response.body.decode("utf-8", "replace"))
    )
