"""E-mail over SMTP (stdlib ``smtplib`` in a thread).

Security ``tls`` connects with TLS from the start (usually port 465), ``starttls`` upgrades
a plain connection and refuses a server that cannot (usually 587), ``none`` sends in the
clear and so carries no password. Certificates are verified against the host name. The
SMTP host is held to the same outbound rules as webhook URLs (a public address, checked
when saved and before each delivery, the connection going to the checked address) and to
the submission ports 25, 465, 587 and 2525 (any port on loopback when
``alerts_allow_loopback`` is on).

The message is plain text; ``X-Algotrade-Alert-Id`` carries the alert id, and the
Message-ID is derived from it, so a retried alert is the same message to mail software.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Literal

from pydantic import EmailStr, Field, field_validator, model_validator

from analytics_service.alerts.channels import _format
from analytics_service.alerts.channels._config import ChannelConfig, parse
from analytics_service.alerts.channels.errors import ChannelConfigError, DeliveryError
from analytics_service.alerts.channels.safe_http import (
    DestinationRefused,
    IPAddress,
    Unresolvable,
    check_host,
)
from shared.alerts import AlertMessage
from shared.config import Settings

SUBMISSION_PORTS = frozenset({25, 465, 587, 2525})
MAX_RECIPIENTS = 10


class EmailConfig(ChannelConfig):
    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.\-:\[\]]+$")
    port: int = Field(587, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = Field(None, max_length=256)
    password: str | None = Field(None, max_length=256)
    from_: EmailStr = Field(alias="from")
    to: list[EmailStr] = Field(min_length=1, max_length=MAX_RECIPIENTS)

    model_config = ChannelConfig.model_config | {"populate_by_name": True}

    @field_validator("to", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _credentials(self) -> EmailConfig:
        if self.username and not self.password:
            raise ValueError("password: required with a username")
        if self.password and not self.username:
            raise ValueError("username: required with a password")
        if self.password and self.security == "none":
            raise ValueError("security: a password is never sent without TLS")
        return self

    def dump(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


def _parse(config: Mapping[str, Any]) -> EmailConfig:
    try:
        return parse(EmailConfig, config)
    except ChannelConfigError as exc:
        # A model-level check names its field at the start of the message.
        field, sep, rest = exc.message.partition(": ")
        if exc.field == "config" and sep:
            raise ChannelConfigError(field.removeprefix("Value error, "), rest) from None
        raise


def _check_destination(parsed: EmailConfig, settings: Settings) -> list[IPAddress]:
    addresses = check_host(parsed.host.strip("[]"), parsed.port, settings)
    local = all(ip.is_loopback for ip in addresses)
    if not local and parsed.port not in SUBMISSION_PORTS:
        raise DestinationRefused(
            f"port {parsed.port} is not an SMTP port (use 25, 465, 587 or 2525)"
        )
    return addresses


def validate(config: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    parsed = _parse(config)
    try:
        _check_destination(parsed, settings)
    except DestinationRefused as exc:
        field = "port" if "port" in exc.reason.split(" ", 1)[0] else "host"
        raise ChannelConfigError(field, exc.reason) from exc
    return parsed.dump()


def build_message(parsed: EmailConfig, message: AlertMessage) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = _format.subject(message)
    mail["From"] = str(parsed.from_)
    mail["To"] = ", ".join(str(a) for a in parsed.to)
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = f"<{_id_part(message.alert_id)}@alerts.algotrade>"
    mail["X-Algotrade-Alert-Id"] = _format.one_line(message.alert_id)
    mail["X-Algotrade-Severity"] = message.severity.value
    mail["X-Algotrade-Kind"] = message.alert_kind.value
    mail.set_content(_format.plain_text(message))
    return mail


def _id_part(alert_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", alert_id)[:128] or "alert"


async def send(
    config: Mapping[str, Any],
    message: AlertMessage,
    settings: Settings,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Deliver ``message`` by e-mail; ``ssl_context`` replaces the default trust store."""
    parsed = _parse(config)
    try:
        addresses = await asyncio.to_thread(_check_destination, parsed, settings)
    except Unresolvable as exc:
        raise DeliveryError(exc.reason, retryable=True) from exc
    except DestinationRefused as exc:
        raise DeliveryError(f"destination refused: {exc.reason}", retryable=False) from exc
    mail = build_message(parsed, message)
    context = ssl_context or ssl.create_default_context()
    await asyncio.to_thread(_deliver, parsed, addresses[0], mail, context, settings)


class _Pinned:
    """Connects to the checked address while TLS verifies the configured host name."""

    _address: IPAddress

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        pinned: socket.socket = super()._get_socket(  # type: ignore[misc]
            str(self._address), port, timeout
        )
        return pinned


class _PinnedSMTP(_Pinned, smtplib.SMTP):
    pass


class _PinnedSMTPSSL(_Pinned, smtplib.SMTP_SSL):
    pass


def _deliver(
    parsed: EmailConfig,
    address: IPAddress,
    mail: EmailMessage,
    context: ssl.SSLContext,
    settings: Settings,
) -> None:
    timeout = settings.alerts_smtp_timeout_seconds
    smtp: smtplib.SMTP = (
        _PinnedSMTPSSL(timeout=timeout, context=context)
        if parsed.security == "tls"
        else _PinnedSMTP(timeout=timeout)
    )
    smtp._address = address  # type: ignore[attr-defined]
    smtp._host = parsed.host.strip("[]")  # type: ignore[attr-defined]  # the TLS server name
    try:
        with smtp:
            smtp.connect(parsed.host.strip("[]"), parsed.port)
            smtp.ehlo()
            if parsed.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if parsed.username and parsed.password:
                _login(smtp, parsed.username, parsed.password)
            smtp.send_message(mail)
    except Exception as exc:
        raise _classify(exc) from exc


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """AUTH PLAIN when offered (one attempt: a refused password is final), else smtplib's
    own choice; ``login`` would retry a refused password with every other mechanism."""
    mechanisms = smtp.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" not in mechanisms:
        smtp.login(username, password)
        return
    smtp.user, smtp.password = username, password
    smtp.auth("PLAIN", smtp.auth_plain)


def _classify(exc: Exception) -> DeliveryError:
    """A failed SMTP exchange as a delivery error: 4xx and network trouble may pass later."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError("SMTP authentication failed", retryable=False)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError("the SMTP server does not support STARTTLS", retryable=False)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        temporary = bool(codes) and all(400 <= code < 500 for code in codes)
        return DeliveryError("the SMTP server refused the recipients", retryable=temporary)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return DeliveryError(f"the SMTP server answered {code}", retryable=400 <= code < 500)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError("the SMTP server's certificate did not verify", retryable=False)
    if isinstance(exc, TimeoutError | socket.timeout):
        return DeliveryError("SMTP timed out", retryable=True)
    if isinstance(exc, smtplib.SMTPException | OSError):
        return DeliveryError(f"SMTP connection failed ({type(exc).__name__})", retryable=True)
    return DeliveryError(f"SMTP failed ({type(exc).__name__})", retryable=False)
