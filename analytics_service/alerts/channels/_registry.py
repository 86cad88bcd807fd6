"""Which module validates and sends each channel kind."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from analytics_service.alerts.channels import discord, slack, smtp, telegram, webhook
from analytics_service.alerts.channels.errors import ChannelConfigError
from shared.alerts import AlertMessage, ChannelKind
from shared.config import Settings

Validator = Callable[[Mapping[str, Any], Settings], dict[str, Any]]
Sender = Callable[
    [Mapping[str, Any], AlertMessage, Settings, httpx.AsyncClient | None], Awaitable[None]
]


def _websocket_config(config: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    if config:
        raise ChannelConfigError("config", "the WebSocket channel takes no configuration")
    return {}


async def _no_sender(
    config: Mapping[str, Any],
    message: AlertMessage,
    settings: Settings,
    client: httpx.AsyncClient | None,
) -> None:
    """The WebSocket channel is the alerts core's own push; nothing to send here."""


async def _email(
    config: Mapping[str, Any],
    message: AlertMessage,
    settings: Settings,
    client: httpx.AsyncClient | None,
) -> None:
    await smtp.send(config, message, settings)


VALIDATORS: dict[ChannelKind, Validator] = {
    ChannelKind.WEBSOCKET: _websocket_config,
    ChannelKind.EMAIL: smtp.validate,
    ChannelKind.TELEGRAM: telegram.validate,
    ChannelKind.SLACK: slack.validate,
    ChannelKind.DISCORD: discord.validate,
    ChannelKind.WEBHOOK: webhook.validate,
}
SENDERS: dict[ChannelKind, Sender] = {
    ChannelKind.WEBSOCKET: _no_sender,
    ChannelKind.EMAIL: _email,
    ChannelKind.TELEGRAM: telegram.send,
    ChannelKind.SLACK: slack.send,
    ChannelKind.DISCORD: discord.send,
    ChannelKind.WEBHOOK: webhook.send,
}


def validate(kind: ChannelKind, config: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    return VALIDATORS[kind](config, settings)


async def send(
    kind: ChannelKind,
    config: Mapping[str, Any],
    message: AlertMessage,
    *,
    settings: Settings,
    client: httpx.AsyncClient | None,
) -> None:
    await SENDERS[kind](config, message, settings, client)
