"""E-mail over SMTP, received by a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from analytics_service.alerts.channels import (
    SECRET_FIELDS,
    ChannelConfigError,
    ChannelKind,
    DeliveryError,
    send,
    smtp,
    validate_config,
)
from tests.analytics_service.alerts_channels.certs import SelfSignedCertificate
from tests.analytics_service.alerts_channels.conftest import PUBLIC_IP, make_alert

MAIL_HOST = "mail.example.test"
USER, PASSWORD = "trader@example.com", "app-password-123"


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=(login, password) == (USER, PASSWORD), handled=False)

    def message(self, index: int = 0) -> email.message.EmailMessage:
        raw = self.envelopes[index].content
        return email.message_from_bytes(raw, policy=email.policy.default)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_server(**kwargs: Any) -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    if kwargs.pop("auth", False):
        kwargs.update(authenticator=inbox.authenticate, auth_require_tls=True)
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def config(port: int, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from": "alerts@example.com",
        "to": "trader@example.com, desk@example.com",
    }
    values.update(overrides)
    return values


async def test_an_alert_arrives_by_email(loopback_settings):
    alert = make_alert()
    with smtp_server() as (inbox, port):
        saved = validate_config(ChannelKind.EMAIL, config(port), loopback_settings)
        await send(ChannelKind.EMAIL, saved, alert, settings=loopback_settings)
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "alerts@example.com"
    assert envelope.rcpt_tos == ["trader@example.com", "desk@example.com"]
    mail = inbox.message()
    assert mail["Subject"] == f"[WARNING] {alert.title}"
    assert mail["X-Algotrade-Alert-Id"] == alert.alert_id
    assert mail["Message-ID"] == f"<{alert.alert_id}@alerts.algotrade>"
    text = mail.get_content()
    assert alert.body in text
    assert "symbol: RELIANCE" in text
    assert mail.get_content_type() == "text/plain"


async def test_starttls_with_login_verifies_the_host_name(loopback_settings, hosts):
    certificate = SelfSignedCertificate(MAIL_HOST)
    hosts({MAIL_HOST: ["127.0.0.1"]})
    with smtp_server(
        tls_context=certificate.server_context(), require_starttls=True, auth=True
    ) as (inbox, port):
        saved = validate_config(
            ChannelKind.EMAIL,
            config(port, host=MAIL_HOST, security="starttls", username=USER, password=PASSWORD),
            loopback_settings,
        )
        await smtp.send(
            saved, make_alert(), loopback_settings, ssl_context=certificate.client_context()
        )
    assert inbox.logins == [(USER, PASSWORD)]
    assert len(inbox.envelopes) == 1


async def test_implicit_tls(loopback_settings, hosts):
    certificate = SelfSignedCertificate(MAIL_HOST)
    hosts({MAIL_HOST: ["127.0.0.1"]})
    with smtp_server(ssl_context=certificate.server_context()) as (inbox, port):
        await smtp.send(
            config(port, host=MAIL_HOST, security="tls"),
            make_alert(),
            loopback_settings,
            ssl_context=certificate.client_context(),
        )
    assert len(inbox.envelopes) == 1


async def test_a_certificate_for_another_host_is_refused(loopback_settings, hosts):
    certificate = SelfSignedCertificate("other.example.test")
    hosts({MAIL_HOST: ["127.0.0.1"]})
    with (
        smtp_server(ssl_context=certificate.server_context()) as (inbox, port),
        pytest.raises(DeliveryError) as caught,
    ):
        await smtp.send(
            config(port, host=MAIL_HOST, security="tls"),
            make_alert(),
            loopback_settings,
            ssl_context=certificate.client_context(),
        )
    assert not caught.value.retryable
    assert "certificate" in caught.value.reason
    assert inbox.envelopes == []


async def test_a_wrong_password_is_not_retryable(loopback_settings, hosts):
    certificate = SelfSignedCertificate(MAIL_HOST)
    hosts({MAIL_HOST: ["127.0.0.1"]})
    with (
        smtp_server(tls_context=certificate.server_context(), auth=True) as (inbox, port),
        pytest.raises(DeliveryError) as caught,
    ):
        await smtp.send(
            config(port, host=MAIL_HOST, security="starttls", username=USER, password="nope"),
            make_alert(),
            loopback_settings,
            ssl_context=certificate.client_context(),
        )
    assert (caught.value.reason, caught.value.retryable) == ("SMTP authentication failed", False)
    assert "nope" not in caught.value.reason
    assert inbox.logins == [(USER, "nope")]  # one attempt: a refused password is final
    assert inbox.envelopes == []


async def test_starttls_required_but_not_offered_fails_before_any_password(loopback_settings):
    with (
        smtp_server() as (inbox, port),
        pytest.raises(DeliveryError, match="STARTTLS") as caught,
    ):
        await send(
            ChannelKind.EMAIL,
            config(port, security="starttls", username=USER, password=PASSWORD),
            make_alert(),
            settings=loopback_settings,
        )
    assert not caught.value.retryable
    assert inbox.envelopes == []


async def test_an_unreachable_server_is_retryable(loopback_settings):
    with pytest.raises(DeliveryError) as caught:
        await send(ChannelKind.EMAIL, config(free_port()), make_alert(), settings=loopback_settings)
    assert caught.value.retryable


def test_with_default_settings_a_loopback_smtp_host_is_refused(default_settings):
    with pytest.raises(ChannelConfigError) as caught:
        validate_config(ChannelKind.EMAIL, config(587), default_settings)
    assert caught.value.field == "host"
    assert "loopback" in caught.value.message


async def test_with_default_settings_a_loopback_smtp_host_is_refused_at_send(default_settings):
    with (
        smtp_server() as (inbox, port),
        pytest.raises(DeliveryError, match="refused") as caught,
    ):
        await send(ChannelKind.EMAIL, config(port), make_alert(), settings=default_settings)
    assert not caught.value.retryable
    assert inbox.envelopes == []


def test_a_private_smtp_host_is_refused(default_settings, hosts):
    hosts({"relay.corp.test": ["192.168.10.5"]})
    with pytest.raises(ChannelConfigError, match="private"):
        validate_config(ChannelKind.EMAIL, config(587, host="relay.corp.test"), default_settings)


def test_only_smtp_ports_on_public_hosts(default_settings, hosts):
    hosts({MAIL_HOST: [PUBLIC_IP]})
    saved = validate_config(ChannelKind.EMAIL, config(465, host=MAIL_HOST), default_settings)
    assert saved["port"] == 465
    with pytest.raises(ChannelConfigError) as caught:
        validate_config(ChannelKind.EMAIL, config(6379, host=MAIL_HOST), default_settings)
    assert caught.value.field == "port"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"security": "none", "username": USER, "password": PASSWORD}, "security"),
        ({"username": USER}, "password"),
        ({"to": "not an address"}, "to.0"),
        ({"to": []}, "to"),
        ({"security": "ssl"}, "security"),
        ({"bcc": "x@example.com"}, "bcc"),
    ],
)
def test_email_config_is_checked(loopback_settings, overrides, field):
    with pytest.raises(ChannelConfigError) as caught:
        validate_config(ChannelKind.EMAIL, config(2525, **overrides), loopback_settings)
    assert caught.value.field == field
    assert PASSWORD not in caught.value.message


def test_the_saved_config_keeps_its_field_names(loopback_settings):
    saved = validate_config(ChannelKind.EMAIL, config(2525), loopback_settings)
    assert saved == {
        "host": "127.0.0.1",
        "port": 2525,
        "security": "none",
        "username": None,
        "password": None,
        "from": "alerts@example.com",
        "to": ["trader@example.com", "desk@example.com"],
    }
    assert SECRET_FIELDS[ChannelKind.EMAIL] == ("password",)


def test_a_title_with_line_breaks_cannot_inject_headers():
    parsed = smtp.EmailConfig.model_validate(config(2525))
    mail = smtp.build_message(parsed, make_alert(title="Filled\r\nBcc: victim@example.com"))
    assert mail["Bcc"] is None
    assert "\n" not in mail["Subject"]
