"""Notification channel senders: e-mail, Telegram, Slack, Discord and signed webhooks,
held to the platform's outbound rules (https only, no private addresses, no redirects).

The interface the alerts core uses (docs/alerts-channels.md):

- ``validate_config(kind, config, settings)``: at save time; returns the normalised config
  to store or raises ``ChannelConfigError(field, message)``. It resolves host names (a
  blocking DNS look-up): call it from a thread (``asyncio.to_thread``) in async code.
- ``await send(kind, config, message, settings=..., client=None)``: one delivery attempt;
  returns when the receiver accepted the message, raises ``DeliveryError`` otherwise
  (``retryable`` tells whether to try again later; scheduling retries is the caller's).
- ``SECRET_FIELDS[kind]``: the config fields to store encrypted and never return.
- ``verify_signature`` / ``sign``: the generic webhook signature scheme.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from analytics_service.alerts.channels import _registry, webhook
from analytics_service.alerts.channels.errors import ChannelConfigError, DeliveryError
from shared.alerts import AlertMessage, ChannelKind
from shared.config import Settings

__all__ = [
    "SECRET_FIELDS",
    "ChannelConfigError",
    "DeliveryError",
    "send",
    "sign",
    "validate_config",
    "verify_signature",
]

SECRET_FIELDS: dict[ChannelKind, tuple[str, ...]] = {
    ChannelKind.WEBSOCKET: (),
    ChannelKind.EMAIL: ("password",),
    ChannelKind.TELEGRAM: ("bot_token",),
    # A Slack or Discord webhook URL is itself the credential: whoever has it can post.
    ChannelKind.SLACK: ("url",),
    ChannelKind.DISCORD: ("url",),
    ChannelKind.WEBHOOK: ("secret",),
}
"""Config fields to store encrypted and never echo back (show at most the last 4 characters)."""


def validate_config(
    kind: ChannelKind, config: Mapping[str, Any], settings: Settings
) -> dict[str, Any]:
    """Check a channel configuration when it is saved and return it normalised.

    Unknown fields are refused; destinations are resolved and checked against the outbound
    rules (blocking DNS: run it in a thread from async code). A generic webhook saved
    without a ``secret`` gets a generated one, which the caller shows the trader once.
    Raises ``ChannelConfigError(field, message)``.
    """
    return _registry.validate(kind, config, settings)


async def send(
    kind: ChannelKind,
    config: Mapping[str, Any],
    message: AlertMessage,
    *,
    settings: Settings,
    client: httpx.AsyncClient | None = None,
) -> None:
    """Deliver ``message`` once on a channel configured by ``config`` (as ``validate_config``
    returned it, secrets decrypted).

    Destinations are checked again against the outbound rules and the connection goes to the
    address that was checked. ``client`` is reused when given (it must not use proxies from
    the environment: ``trust_env=False``); otherwise one is made for the call. WebSocket
    needs no sender and returns at once. Raises ``DeliveryError``.
    """
    await _registry.send(kind, config, message, settings=settings, client=client)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Algotrade-Signature`` of a webhook body: hex HMAC-SHA256 over
    ``f"{timestamp}.{body}"`` keyed with the channel's secret."""
    return webhook.sign(secret, timestamp, body)


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    tolerance_seconds: float = 300.0,
    now: float | None = None,
) -> bool:
    """Whether a received webhook is authentic and recent: the signature matches (compared in
    constant time) and the timestamp is within ``tolerance_seconds`` of ``now``."""
    return webhook.verify_signature(
        secret, body, timestamp, signature, tolerance_seconds=tolerance_seconds, now=now
    )
