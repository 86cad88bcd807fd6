"""Telegram bot: ``sendMessage`` with the chat id and the alert as plain text.

The trader makes a bot with @BotFather (its token) and starts a chat with it, or adds it to
a group or channel (the chat id: a number, or ``@channelname`` for a public channel). The
text is sent without a parse mode, so nothing in an alert needs escaping; INFO alerts are
sent silently (``disable_notification``). The API's base URL is the setting
``alerts_telegram_api_url`` (a local Bot API server, or a fake in tests).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import Field, field_validator

from analytics_service.alerts.channels import safe_http
from analytics_service.alerts.channels._config import ChannelConfig, parse
from analytics_service.alerts.channels._format import plain_text, printable, truncate
from analytics_service.alerts.channels.errors import DeliveryError
from shared.alerts import AlertMessage, Severity
from shared.config import Settings

TEXT_MAX = 4096  # Telegram: sendMessage text, after entity parsing


class TelegramConfig(ChannelConfig):
    bot_token: str = Field(pattern=r"^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$")
    chat_id: int | str

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_id(cls, value: object) -> int | str:
        if isinstance(value, bool):
            raise ValueError("a chat id is a number or @channelname")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("-").isdigit() and len(text) <= 24:
                return int(text)
            name = text[1:]
            if text.startswith("@") and 5 <= len(name) <= 32 and name.replace("_", "").isalnum():
                return text
        raise ValueError("a chat id is a number or @channelname")


def payload(config: TelegramConfig, message: AlertMessage) -> dict[str, Any]:
    return {
        "chat_id": config.chat_id,
        "text": truncate(plain_text(message), TEXT_MAX),
        "disable_notification": message.severity is Severity.INFO,
        "link_preview_options": {"is_disabled": True},
    }


def validate(config: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    return parse(TelegramConfig, config).model_dump()


async def send(
    config: Mapping[str, Any],
    message: AlertMessage,
    settings: Settings,
    client: httpx.AsyncClient | None,
) -> None:
    parsed = parse(TelegramConfig, config)
    url = f"{settings.alerts_telegram_api_url.rstrip('/')}/bot{parsed.bot_token}/sendMessage"
    response = await safe_http.post_json(
        url, payload(parsed, message), settings=settings, client=client
    )
    answer = _answer(response.body)
    # A 2xx is success: the Bot API answers errors with 4xx/5xx and {"ok": false}. The body
    # (it echoes the message) may have been cut at the size cap, so it is not required.
    if 200 <= response.status_code < 300 and answer.get("ok") is not False:
        return
    description = answer.get("description")
    detail = printable(description, 150) if isinstance(description, str) else ""
    if response.status_code == 429:
        raise DeliveryError(
            "Telegram answered HTTP 429" + (f": {detail}" if detail else ""),
            retryable=True,
            retry_after=_retry_after(answer) or safe_http.retry_after_seconds(response.headers),
        )
    if 200 <= response.status_code < 300:
        raise DeliveryError("Telegram did not accept the message", retryable=False)
    # The token is in the URL, never in the reason: only the status and Telegram's text.
    safe_http.raise_for_status(response, what="Telegram", detail=detail)


def _answer(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _retry_after(answer: Mapping[str, Any]) -> float | None:
    parameters = answer.get("parameters")
    if isinstance(parameters, dict):
        value = parameters.get("retry_after")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None
