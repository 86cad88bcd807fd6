"""Rate limits per key (a user and a kind of request): in process, or shared through Redis.

Each key has a rate (requests per second) and a burst (how many may come at once after a
quiet spell), kept as one number, the theoretical arrival time of the next request (the
generic cell rate algorithm). ``acquire`` answers 0 when the request may go ahead, else
the seconds to wait before one would. The Redis adapter keeps that number in Redis, so
every process of a service shares each key's budget; while Redis is away it limits in
process rather than refusing requests or waiting on Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shared.config import Settings

log = logging.getLogger(__name__)

REDIS_TIMEOUT_S = 0.5  # a limit check never holds a request longer than this
REDIS_AWAY_S = 5.0  # after a failed check, limit in process this long before asking again
_PRUNE_EVERY = 10_000  # keys held in process before the idle ones are dropped


class RateLimiter(Protocol):
    async def acquire(self, key: str, rate: float, burst: int) -> float:
        """0 if a request under ``key`` may go now (and count it), else seconds to wait."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class InMemoryRateLimiter:
    """Limits of this process (embedded profile, or while Redis is away)."""

    def __init__(self) -> None:
        self._tat: dict[str, float] = {}

    async def acquire(self, key: str, rate: float, burst: int) -> float:
        return self.take(key, rate, burst, time.monotonic())

    async def close(self) -> None:
        """Nothing to release."""

    def take(self, key: str, rate: float, burst: int, now: float) -> float:
        """``acquire`` at the moment ``now`` (seconds, any fixed origin)."""
        interval = 1.0 / rate
        tat = max(self._tat.get(key, now), now)
        allowed_at = tat + interval - burst * interval
        if allowed_at > now:
            return allowed_at - now
        if len(self._tat) >= _PRUNE_EVERY:
            self._tat = {k: t for k, t in self._tat.items() if t > now}
        self._tat[key] = tat + interval
        return 0.0


# KEYS[1] the key; ARGV rate (per second), burst. Server time, so gateways on several hosts
# agree; the key expires once its budget is full again.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = 1000 / tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allowed_at = tat + interval - burst * interval
if allowed_at > now then
  return math.ceil(allowed_at - now)
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.max(1, math.ceil(new_tat - now)))
return 0
"""


class RedisRateLimiter:
    """Limits shared by every process through Redis (keys ``ratelimit:<key>``)."""

    def __init__(self, client: Any, *, prefix: str = "ratelimit:") -> None:
        self.client = client
        self.prefix = prefix
        self.local = InMemoryRateLimiter()
        self._script = client.register_script(_ACQUIRE)
        self._away_until = 0.0

    async def acquire(self, key: str, rate: float, burst: int) -> float:
        now = time.monotonic()
        if now < self._away_until:
            return self.local.take(key, rate, burst, now)
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_S):
                wait_ms = await self._script(keys=[self.prefix + key], args=[rate, burst])
        except Exception as exc:  # Redis away or slow: limit in process for a while
            self._away_until = now + REDIS_AWAY_S
            log.warning("rate limits held in process for %.0f s: redis: %r", REDIS_AWAY_S, exc)
            return self.local.take(key, rate, burst, now)
        return int(wait_ms) / 1000

    async def close(self) -> None:
        await self.client.aclose()


def rate_limiter_from_settings(settings: Settings) -> RateLimiter:
    """Shared through Redis in the distributed profile, in process in the embedded one."""
    if str(settings.profile) != "distributed":
        return InMemoryRateLimiter()
    from shared.redis_client import create_redis_from_settings

    # No retries: a check that cannot be made at once falls back to the local limit.
    return RedisRateLimiter(create_redis_from_settings(settings, retries=0))
