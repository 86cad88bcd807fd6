"""Telegram, Slack and Discord payloads against local fakes of their documented APIs."""

from __future__ import annotations

import json
import re

import pytest

from analytics_service.alerts.channels import (
    SECRET_FIELDS,
    ChannelConfigError,
    ChannelKind,
    DeliveryError,
    send,
    validate_config,
)
from shared.alerts import Severity
from shared.config import Settings
from tests.analytics_service.alerts_channels.conftest import make_alert
from tests.analytics_service.alerts_channels.receiver import Received, Receiver, Reply, json_reply

TOKEN = "123456789:AAE-fake_token_for_tests_0123456789"


# ---- Telegram Bot API: POST /bot<token>/sendMessage {chat_id, text, ...} --------------------


def fake_telegram(known_chats: set[int | str], *, flood_wait: int | None = None):
    def handle(request: Received) -> Reply:
        match = re.fullmatch(r"/bot([0-9]+:[A-Za-z0-9_-]+)/sendMessage", request.path)
        if request.method != "POST" or match is None or match.group(1) != TOKEN:
            return json_reply({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        body = request.json()
        if flood_wait is not None:
            return json_reply(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {flood_wait}",
                    "parameters": {"retry_after": flood_wait},
                },
                429,
            )
        text = body.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= 4096:
            return json_reply(
                {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: message text is empty",
                },
                400,
            )
        if body.get("chat_id") not in known_chats:
            return json_reply(
                {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}, 400
            )
        return json_reply({"ok": True, "result": {"message_id": 1, "text": text}})

    return handle


def telegram_settings(base: Settings, receiver: Receiver) -> Settings:
    return base.model_copy(update={"alerts_telegram_api_url": receiver.url("")})


async def test_telegram_message_reaches_the_bot_api(loopback_settings):
    alert = make_alert(severity=Severity.CRITICAL, title="Kill switch engaged")
    async with Receiver(fake_telegram({-100123})) as receiver:
        settings = telegram_settings(loopback_settings, receiver)
        config = validate_config(
            ChannelKind.TELEGRAM, {"bot_token": TOKEN, "chat_id": "-100123"}, settings
        )
        await send(ChannelKind.TELEGRAM, config, alert, settings=settings)
    [request] = receiver.requests
    body = request.json()
    assert body["chat_id"] == -100123
    assert "Kill switch engaged" in body["text"]
    assert alert.alert_id in body["text"]
    assert body["disable_notification"] is False
    assert "parse_mode" not in body  # plain text: nothing in an alert needs escaping


async def test_telegram_info_alerts_are_silent_and_long_text_is_cut(loopback_settings):
    alert = make_alert(severity=Severity.INFO, body="x" * 10_000)
    async with Receiver(fake_telegram({"@algo_alerts"})) as receiver:
        settings = telegram_settings(loopback_settings, receiver)
        await send(
            ChannelKind.TELEGRAM,
            {"bot_token": TOKEN, "chat_id": "@algo_alerts"},
            alert,
            settings=settings,
        )
    body = receiver.requests[0].json()
    assert body["disable_notification"] is True
    assert len(body["text"]) == 4096


async def test_telegram_error_is_reported_without_the_token(loopback_settings):
    async with Receiver(fake_telegram(set())) as receiver:
        settings = telegram_settings(loopback_settings, receiver)
        with pytest.raises(DeliveryError) as caught:
            await send(
                ChannelKind.TELEGRAM,
                {"bot_token": TOKEN, "chat_id": 42},
                make_alert(),
                settings=settings,
            )
    assert not caught.value.retryable
    assert "chat not found" in caught.value.reason
    assert TOKEN.split(":")[1] not in caught.value.reason


async def test_telegram_flood_wait_is_retryable_after_the_given_time(loopback_settings):
    async with Receiver(fake_telegram({42}, flood_wait=17)) as receiver:
        settings = telegram_settings(loopback_settings, receiver)
        with pytest.raises(DeliveryError) as caught:
            await send(
                ChannelKind.TELEGRAM,
                {"bot_token": TOKEN, "chat_id": 42},
                make_alert(),
                settings=settings,
            )
    assert (caught.value.retryable, caught.value.retry_after) == (True, 17.0)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"bot_token": "not-a-token", "chat_id": 1}, "bot_token"),
        ({"bot_token": TOKEN + "/../../x", "chat_id": 1}, "bot_token"),
        ({"bot_token": TOKEN, "chat_id": "someone"}, "chat_id"),
        ({"bot_token": TOKEN}, "chat_id"),
    ],
)
def test_telegram_config_is_checked(default_settings, config, field):
    with pytest.raises(ChannelConfigError) as caught:
        validate_config(ChannelKind.TELEGRAM, config, default_settings)
    assert caught.value.field == field
    assert SECRET_FIELDS[ChannelKind.TELEGRAM] == ("bot_token",)


# ---- Slack incoming webhook: POST {text, blocks}; "ok" or a short error code ---------------

SLACK_BLOCK_TYPES = {"header", "section", "context", "divider", "actions", "image"}


def fake_slack(request: Received) -> Reply:
    try:
        body = request.json()
    except ValueError:
        return Reply(400, b"invalid_payload")
    if not body.get("text") and not body.get("blocks"):
        return Reply(400, b"no_text")
    for block in body.get("blocks", []):
        if block.get("type") not in SLACK_BLOCK_TYPES:
            return Reply(400, b"invalid_blocks")
        if block["type"] == "header" and (
            block["text"]["type"] != "plain_text" or len(block["text"]["text"]) > 150
        ):
            return Reply(400, b"invalid_blocks")
        if block["type"] == "section" and len(block["text"]["text"]) > 3000:
            return Reply(400, b"invalid_blocks")
        if block["type"] == "context" and not 1 <= len(block["elements"]) <= 10:
            return Reply(400, b"invalid_blocks")
    return Reply(200, b"ok")


async def test_slack_payload_is_accepted_by_the_webhook(loopback_settings):
    alert = make_alert(title="T" * 300, body="<!channel> & friends " + "y" * 5000)
    async with Receiver(fake_slack) as receiver:
        await send(
            ChannelKind.SLACK,
            {"url": receiver.url("/services/T0/B0/x")},
            alert,
            settings=loopback_settings,
        )
    body = receiver.requests[0].json()
    assert body["text"].startswith("[WARNING] ")
    header, section, context = body["blocks"]
    assert header["type"] == "header" and len(header["text"]["text"]) == 150
    assert section["text"]["text"].startswith("&lt;!channel&gt; &amp; friends")  # no mention
    assert alert.alert_id in context["elements"][0]["text"]


async def test_slack_error_code_is_kept_in_the_reason(loopback_settings):
    async with Receiver(lambda _: Reply(404, b"no_service")) as receiver:
        with pytest.raises(DeliveryError, match="Slack answered HTTP 404: no_service"):
            await send(
                ChannelKind.SLACK,
                {"url": receiver.url("/services/x")},
                make_alert(),
                settings=loopback_settings,
            )


# ---- Discord webhook: POST {content, embeds, allowed_mentions}; 204 ------------------------


def fake_discord(request: Received) -> Reply:
    body = request.json()
    if not body.get("content") and not body.get("embeds"):
        return json_reply({"message": "Cannot send an empty message", "code": 50006}, 400)
    if len(body.get("content", "")) > 2000 or len(body.get("embeds", [])) > 10:
        return json_reply({"message": "Invalid Form Body", "code": 50035}, 400)
    for embed in body.get("embeds", []):
        fields = embed.get("fields", [])
        total = len(embed.get("title", "")) + len(embed.get("description", ""))
        total += len(embed.get("footer", {}).get("text", ""))
        total += sum(len(f["name"]) + len(f["value"]) for f in fields)
        if (
            len(embed.get("title", "")) > 256
            or len(embed.get("description", "")) > 4096
            or len(fields) > 25
            or any(len(f["name"]) > 256 or len(f["value"]) > 1024 for f in fields)
            or total > 6000
            or not isinstance(embed.get("color", 0), int)
        ):
            return json_reply({"message": "Invalid Form Body", "code": 50035}, 400)
    return Reply(204)


async def test_discord_payload_is_accepted_by_the_webhook(loopback_settings):
    data = {f"field{i}": "v" * 2000 for i in range(30)}
    alert = make_alert(severity=Severity.ERROR, body="@everyone " + "z" * 5000, data=data)
    async with Receiver(fake_discord) as receiver:
        await send(
            ChannelKind.DISCORD,
            {"url": receiver.url("/api/webhooks/1/tok")},
            alert,
            settings=loopback_settings,
        )
    body = receiver.requests[0].json()
    assert body["allowed_mentions"] == {"parse": []}
    [embed] = body["embeds"]
    assert embed["title"] == alert.title
    assert embed["timestamp"] == "2026-12-04T09:20:05+00:00"
    assert alert.alert_id in embed["footer"]["text"]


async def test_discord_rate_limit_body_gives_the_wait(loopback_settings):
    reply = json_reply(
        {"message": "You are being rate limited.", "retry_after": 2.5, "global": False}, 429
    )
    async with Receiver(lambda _: reply) as receiver:
        with pytest.raises(DeliveryError) as caught:
            await send(
                ChannelKind.DISCORD,
                {"url": receiver.url("/api/webhooks/1/t")},
                make_alert(),
                settings=loopback_settings,
            )
    assert (caught.value.retryable, caught.value.retry_after) == (True, 2.5)


def test_webhook_urls_of_slack_and_discord_are_secrets():
    assert SECRET_FIELDS[ChannelKind.SLACK] == ("url",)
    assert SECRET_FIELDS[ChannelKind.DISCORD] == ("url",)
    assert set(SECRET_FIELDS) == set(ChannelKind)


async def test_websocket_needs_no_sender(default_settings):
    await send(ChannelKind.WEBSOCKET, {}, make_alert(), settings=default_settings)
    assert validate_config(ChannelKind.WEBSOCKET, {}, default_settings) == {}


def test_payloads_are_json_serialisable():
    from analytics_service.alerts.channels import discord, slack

    alert = make_alert(data={"qty": 10, "nested": {"a": [1, 2]}})
    json.dumps(slack.payload(alert))
    json.dumps(discord.payload(alert))
