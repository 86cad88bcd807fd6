"""The two errors a channel raises: a bad configuration (at save time) and a failed delivery."""

from __future__ import annotations


class ChannelConfigError(ValueError):
    """A channel configuration refused when it is saved: ``field`` names what was wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class DeliveryError(Exception):
    """A delivery that did not happen.

    ``reason`` is short, safe to store in the alert history and show to the trader (it never
    carries a secret: no token, password or webhook URL). ``retryable`` says whether sending
    the same message again later may succeed (a timeout, a 5xx, a 429) or not (a 4xx, a
    refused destination, a bad configuration). ``retry_after`` is the wait in seconds the
    receiver asked for, when it did (429 ``Retry-After``, Telegram's ``retry_after``).
    """

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
