"""How an alert reads as text, shared by every channel."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from shared.alerts import AlertMessage, Severity

SEVERITY_ICON = {
    Severity.INFO: "\u2139\ufe0f",  # information source
    Severity.WARNING: "\u26a0\ufe0f",  # warning sign
    Severity.ERROR: "\u2757",  # heavy exclamation mark
    Severity.CRITICAL: "\U0001f6a8",  # rotating light
}
SEVERITY_COLOUR = {  # RGB, as Discord embeds want it
    Severity.INFO: 0x3498DB,
    Severity.WARNING: 0xF1C40F,
    Severity.ERROR: 0xE67E22,
    Severity.CRITICAL: 0xE74C3C,
}
MAX_DETAILS = 20


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "\u2026"


def one_line(text: str) -> str:
    """``text`` on one line (subjects and headers never carry a line break)."""
    return " ".join(text.split())


def subject(message: AlertMessage) -> str:
    return truncate(one_line(f"[{message.severity.value}] {message.title}"), 200)


def timestamp(message: AlertMessage) -> str:
    created = message.created_at
    if created.tzinfo is not None:
        created = created.astimezone(UTC)
    return created.strftime("%Y-%m-%d %H:%M:%S UTC")


def details(message: AlertMessage) -> list[tuple[str, str]]:
    """The alert's data as (name, value) pairs, at most ``MAX_DETAILS``."""
    return [(str(k), _value(v)) for k, v in list(message.data.items())[:MAX_DETAILS]]


def _value(value: Any) -> str:
    return truncate(str(value), 500)


def footer(message: AlertMessage) -> str:
    return (
        f"{message.severity.value} \u00b7 {message.alert_kind.value} \u00b7 "
        f"{timestamp(message)} \u00b7 alert {message.alert_id}"
    )


def plain_text(message: AlertMessage) -> str:
    """The whole alert as plain text: title, body, details and a footer line."""
    lines = [f"{SEVERITY_ICON[message.severity]} {message.title}", ""]
    if message.body:
        lines += [message.body, ""]
    for name, value in details(message):
        lines.append(f"{name}: {value}")
    if message.data:
        lines.append("")
    lines.append(footer(message))
    return "\n".join(lines)


def printable(text: str, limit: int = 200) -> str:
    """A receiver's answer made safe to keep in the history: one line, short."""
    return truncate(one_line("".join(ch for ch in text if ch.isprintable() or ch.isspace())), limit)
