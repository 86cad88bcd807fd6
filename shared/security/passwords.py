"""Password hashing with argon2id (pwdlib), bounded so a login flood cannot starve the API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from shared.errors import ServiceUnavailable

T = TypeVar("T")

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 hashes the whole password; this only bounds request cost


class PasswordHasher:
    """argon2id hashing run in worker threads, at most ``concurrency`` at a time."""

    def __init__(
        self, concurrency: int = 2, queue_limit: int = 64, fast_for_tests: bool = False
    ) -> None:
        hasher = (
            Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1)
            if fast_for_tests
            else Argon2Hasher()
        )
        self._hash = PasswordHash((hasher,))
        self._slots = asyncio.Semaphore(concurrency)
        self._waiting = 0
        self._queue_limit = queue_limit
        # A fixed hash to verify against when the account does not exist, so timing
        # does not reveal which e-mail addresses are registered.
        self._dummy = self._hash.hash("timing-equaliser-password")

    async def hash(self, password: str) -> str:
        return await self._bounded(self._hash.hash, password)

    async def verify(self, password: str, hashed: str | None) -> bool:
        if hashed is None:
            await self._bounded(self._hash.verify, password, self._dummy)
            return False
        return await self._bounded(self._hash.verify, password, hashed)

    async def _bounded(self, fn: Callable[..., T], *args: str) -> T:
        if self._waiting >= self._queue_limit:
            raise ServiceUnavailable(
                "too many logins in progress, try again shortly", code="auth_busy"
            )
        self._waiting += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(fn, *args)
        finally:
            self._waiting -= 1
