"""Slack incoming webhook: ``{"text": ..., "blocks": [...]}`` posted to the channel's URL.

``text`` is the fallback Slack shows in notifications; the blocks are a header (the title),
a section (the body and details) and a context line (severity, kind, time, alert id).
Any Slack-compatible incoming webhook (Mattermost, Rocket.Chat) takes the same payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import Field

from analytics_service.alerts.channels import safe_http
from analytics_service.alerts.channels._config import ChannelConfig, check_destination_url, parse
from analytics_service.alerts.channels._format import (
    SEVERITY_ICON,
    details,
    footer,
    one_line,
    printable,
    truncate,
)
from shared.alerts import AlertMessage
from shared.config import Settings

HEADER_MAX = 150  # Slack: a header block's plain_text
SECTION_MAX = 3000  # Slack: a section block's text
TEXT_MAX = 4000


class SlackConfig(ChannelConfig):
    url: str = Field(min_length=1, max_length=2048)


def escape(text: str) -> str:
    """Text as Slack mrkdwn shows it literally (its three control characters escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(message: AlertMessage) -> dict[str, Any]:
    icon = SEVERITY_ICON[message.severity]
    title = one_line(f"{icon} {message.title}")
    section = escape(message.body)
    lines = [f"*{escape(name)}:* {escape(value)}" for name, value in details(message)]
    if lines:
        section = (section + "\n\n" if section else "") + "\n".join(lines)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(title, HEADER_MAX)}}
    ]
    if section:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(section, SECTION_MAX)}}
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(footer(message))}]}
    )
    fallback = f"[{message.severity.value}] {message.title}"
    if message.body:
        fallback += f": {message.body}"
    return {"text": truncate(escape(fallback), TEXT_MAX), "blocks": blocks}


def validate(config: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    parsed = parse(SlackConfig, config)
    check_destination_url("url", parsed.url, settings)
    return parsed.model_dump()


async def send(
    config: Mapping[str, Any],
    message: AlertMessage,
    settings: Settings,
    client: httpx.AsyncClient | None,
) -> None:
    parsed = parse(SlackConfig, config)
    response = await safe_http.post_json(
        parsed.url, payload(message), settings=settings, client=client
    )
    # Slack answers errors as a short code in plain text: "invalid_payload", "no_service".
    detail = printable(response.body.decode("utf-8", "replace"), 100)
    safe_http.raise_for_status(response, what="Slack", detail=detail)
