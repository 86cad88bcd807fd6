"""Generic JSON webhook: the alert as JSON, signed; a receiver checks it with verify_signature."""

from __future__ import annotations

import time

import pytest

from analytics_service.alerts.channels import (
    SECRET_FIELDS,
    ChannelConfigError,
    ChannelKind,
    send,
    sign,
    validate_config,
    verify_signature,
)
from shared.alerts import AlertMessage
from tests.analytics_service.alerts_channels.conftest import make_alert
from tests.analytics_service.alerts_channels.receiver import Received, Receiver, Reply

SECRET = "whsec_test-secret-of-enough-length"


def checking_receiver(secret: str):
    """A receiver that answers 401 unless the signature verifies, as a real one would."""

    def handle(request: Received) -> Reply:
        ok = verify_signature(
            secret,
            request.body,
            request.headers.get("x-algotrade-timestamp", ""),
            request.headers.get("x-algotrade-signature", ""),
        )
        return Reply(204) if ok else Reply(401, b"bad signature")

    return handle


async def test_the_receiver_gets_the_alert_json_with_a_valid_signature(loopback_settings):
    alert = make_alert()
    async with Receiver(checking_receiver(SECRET)) as receiver:
        config = validate_config(
            ChannelKind.WEBHOOK, {"url": receiver.url("/hook"), "secret": SECRET}, loopback_settings
        )
        await send(ChannelKind.WEBHOOK, config, alert, settings=loopback_settings)
    [request] = receiver.requests
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-algotrade-alert-id"] == alert.alert_id
    assert AlertMessage.model_validate_json(request.body) == alert
    assert abs(int(request.headers["x-algotrade-timestamp"]) - time.time()) < 60


async def test_a_wrong_secret_is_refused_by_the_receiver(loopback_settings):
    async with Receiver(checking_receiver("another-secret-entirely")) as receiver:
        with pytest.raises(Exception, match="HTTP 401") as caught:
            await send(
                ChannelKind.WEBHOOK,
                {"url": receiver.url("/hook"), "secret": SECRET},
                make_alert(),
                settings=loopback_settings,
            )
    assert not caught.value.retryable


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, "1700000000", body) == expected


@pytest.mark.parametrize(
    ("body", "timestamp", "now", "valid"),
    [
        (b'{"a":1}', "1700000000", 1700000010.0, True),
        (b'{"a":2}', "1700000000", 1700000010.0, False),  # body changed
        (b'{"a":1}', "1700000001", 1700000010.0, False),  # timestamp changed
        (b'{"a":1}', "1700000000", 1700000400.0, False),  # too old: a replay
        (b'{"a":1}', "soon", 1700000010.0, False),
    ],
)
def test_verify_signature(body, timestamp, now, valid):
    signature = sign(SECRET, "1700000000", b'{"a":1}')
    assert verify_signature(SECRET, body, timestamp, signature, now=now) is valid


def test_a_secret_is_generated_when_none_is_given(loopback_settings):
    saved = validate_config(ChannelKind.WEBHOOK, {"url": "http://127.0.0.1:9/h"}, loopback_settings)
    assert saved["secret"].startswith("whsec_")
    assert len(saved["secret"]) >= 40
    assert SECRET_FIELDS[ChannelKind.WEBHOOK] == ("secret",)


def test_a_short_secret_is_refused(loopback_settings):
    with pytest.raises(ChannelConfigError) as caught:
        validate_config(
            ChannelKind.WEBHOOK,
            {"url": "http://127.0.0.1:9/h", "secret": "short"},
            loopback_settings,
        )
    assert caught.value.field == "secret"
    assert "short" not in caught.value.message  # the value is never echoed


def test_unknown_fields_are_refused(loopback_settings):
    with pytest.raises(ChannelConfigError) as caught:
        validate_config(
            ChannelKind.WEBHOOK,
            {"url": "http://127.0.0.1:9/h", "secret": SECRET, "method": "DELETE"},
            loopback_settings,
        )
    assert (caught.value.field, caught.value.message) == ("method", "unknown field")
