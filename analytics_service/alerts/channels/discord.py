"""Discord webhook: ``{"content": ..., "embeds": [...]}`` posted to the channel's URL.

One embed per alert: title, description (the body), colour by severity, the details as
fields, the time, and a footer with the alert id. Mentions are switched off
(``allowed_mentions``), so text in an alert can never ping ``@everyone``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC
from typing import Any

import httpx
from pydantic import Field

from analytics_service.alerts.channels import safe_http
from analytics_service.alerts.channels._config import ChannelConfig, check_destination_url, parse
from analytics_service.alerts.channels._format import (
    SEVERITY_COLOUR,
    SEVERITY_ICON,
    details,
    footer,
    one_line,
    printable,
    truncate,
)
from analytics_service.alerts.channels.errors import DeliveryError
from shared.alerts import AlertMessage
from shared.config import Settings

# Discord's documented limits for a message and its embeds.
CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000


class DiscordConfig(ChannelConfig):
    url: str = Field(min_length=1, max_length=2048)


def payload(message: AlertMessage) -> dict[str, Any]:
    title = truncate(one_line(message.title), TITLE_MAX)
    description = truncate(message.body, DESCRIPTION_MAX)
    foot = truncate(footer(message), FOOTER_MAX)
    budget = EMBED_TOTAL_MAX - len(title) - len(description) - len(foot)
    fields: list[dict[str, Any]] = []
    for name, value in details(message)[:FIELDS_MAX]:
        field_name = truncate(name, FIELD_NAME_MAX) or "-"
        field_value = truncate(value, FIELD_VALUE_MAX) or "-"
        budget -= len(field_name) + len(field_value)
        if budget < 0:
            break
        fields.append({"name": field_name, "value": field_value, "inline": True})
    created = message.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    embed: dict[str, Any] = {
        "title": title,
        "color": SEVERITY_COLOUR[message.severity],
        "timestamp": created.astimezone(UTC).isoformat(),
        "footer": {"text": foot},
    }
    if description:
        embed["description"] = description
    if fields:
        embed["fields"] = fields
    content = f"{SEVERITY_ICON[message.severity]} **{message.severity.value}** {message.title}"
    return {
        "content": truncate(one_line(content), CONTENT_MAX),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }


def validate(config: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    parsed = parse(DiscordConfig, config)
    check_destination_url("url", parsed.url, settings)
    return parsed.model_dump()


async def send(
    config: Mapping[str, Any],
    message: AlertMessage,
    settings: Settings,
    client: httpx.AsyncClient | None,
) -> None:
    parsed = parse(DiscordConfig, config)
    response = await safe_http.post_json(
        parsed.url, payload(message), settings=settings, client=client
    )
    if response.status_code == 429 and safe_http.retry_after_seconds(response.headers) is None:
        # Discord also gives the wait in the JSON body: {"retry_after": 1.5, ...}.
        raise DeliveryError(
            "Discord answered HTTP 429", retryable=True, retry_after=_body_retry_after(response)
        )
    detail = _discord_error(response.body)
    safe_http.raise_for_status(response, what="Discord", detail=detail)


def _discord_error(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return printable(body.decode("utf-8", "replace"), 100)
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return printable(data["message"], 100)
    return ""


def _body_retry_after(response: safe_http.SafeResponse) -> float | None:
    try:
        data = json.loads(response.body)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("retry_after"), int | float):
        return float(data["retry_after"])
    return None
