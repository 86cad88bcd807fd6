"""Per-address login throttling: a sliding window of failed attempts per client address."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta


class AddressThrottle:
    """Counts failed password and code checks per address in a sliding window; over the
    limit, the address waits until its oldest failure leaves the window.

    Nothing clears the count early: a success from the address (an attacker's own
    account) must not wipe out the failures of guesses at other accounts.

    Kept in process memory: with several gateway processes each enforces the
    limit on what it sees (the per-account lockout, stored in the database,
    holds across processes).
    """

    def __init__(self, max_attempts: int, window_seconds: int, max_addresses: int = 100_000):
        self.max_attempts = max_attempts
        self.window = timedelta(seconds=window_seconds)
        self._failures: dict[str, deque[datetime]] = {}
        self._max_addresses = max_addresses

    def retry_after(self, address: str, now: datetime) -> int:
        """Seconds the address must wait, or 0 when it may try."""
        q = self._failures.get(address)
        if not q:
            return 0
        while q and now - q[0] > self.window:
            q.popleft()
        if len(q) < self.max_attempts:
            return 0
        return max(1, int((q[0] + self.window - now).total_seconds()) + 1)

    def reserve(self, address: str, now: datetime) -> int:
        """Count an attempt as failed before it is checked (a check is slow, and parallel
        guesses must not all pass on the same count): 0 when counted, else the seconds the
        address must wait (nothing counted). ``release`` takes it back when it succeeds."""
        wait = self.retry_after(address, now)
        if not wait:
            self.record_failure(address, now)
        return wait

    def release(self, address: str, at: datetime) -> None:
        """Take back one attempt counted at ``at`` (it turned out not to be a failure)."""
        q = self._failures.get(address)
        if q is None:
            return
        try:
            q.remove(at)
        except ValueError:  # already left the window
            return
        if not q:
            del self._failures[address]

    def record_failure(self, address: str, now: datetime) -> None:
        if address not in self._failures and len(self._failures) >= self._max_addresses:
            self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault(address, deque()).append(now)
