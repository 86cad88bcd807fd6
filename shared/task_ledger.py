"""The ledger of evaluation tasks: every evaluation the market data engine sends runs at least once.

Celery's Redis transport takes a message off its queue (``BRPOP``) before it records it as
unacknowledged, so a worker killed between the two loses the task for good; and a task taken
by a worker that died comes back only after the broker's visibility timeout. The ledger closes
both gaps from the sending side, on the broker's Redis:

- the sender records each task (its Celery task id, candles, ``closed_at``, queue, and how
  often it was sent again) before sending it, due to be sent again ``redispatch_after``
  seconds later; recording first means no crash can lose a task sent but not recorded;
- a worker that starts the task moves its due time at least its timeout ahead (``started``),
  and removes the record once the task is finished: evaluated, skipped as stale, dropped as
  malformed, or out of retries (``finished``);
- a sweeper takes what is due (``take_due``) and sends it again with the same task id and
  ``closed_at``, the delay doubling after each send, and gives a task up after
  ``max_attempts`` sends again.

Evaluations are idempotent, so a copy sent while the first is still queued or running costs a
repeat and nothing else; a copy that arrives too late records its candles as skipped. Keys:
``EVALUATION_LEDGER`` (hash: task id -> JSON) and ``EVALUATION_LEDGER_DUE`` (sorted set: task
id by due time, Unix seconds); ``ZADD ... GT`` needs Redis 6.2 or newer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shared.config import Settings
from shared.contracts import EVALUATION_LEDGER, EVALUATION_LEDGER_DUE
from shared.redis_client import SyncRedisClient, create_sync_redis_from_settings

DEFAULT_REDISPATCH_AFTER = 20.0
DEFAULT_MAX_ATTEMPTS = 5
BATCH = 500  # records taken per round trip

# The records due by ARGV[1] (at most ARGV[2]), and the ledger's size: {size, id, json, ...}.
_DUE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {redis.call('HLEN', KEYS[1])}
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', KEYS[1], id)
  if raw then
    table.insert(out, id)
    table.insert(out, raw)
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return out
"""

# Claim records read by _DUE: for each (id, json read, new json or '' to drop, new due), only
# if the record is unchanged and still due by ARGV[1] (a worker that started it, or another
# sweeper that claimed it, wins). Returns the ids claimed.
_CLAIM = """
local now = tonumber(ARGV[1])
local claimed = {}
for i = 2, #ARGV, 4 do
  local id = ARGV[i]
  local due = redis.call('ZSCORE', KEYS[2], id)
  if due and tonumber(due) <= now and redis.call('HGET', KEYS[1], id) == ARGV[i + 1] then
    if ARGV[i + 2] == '' then
      redis.call('HDEL', KEYS[1], id)
      redis.call('ZREM', KEYS[2], id)
    else
      redis.call('HSET', KEYS[1], id, ARGV[i + 2])
      redis.call('ZADD', KEYS[2], ARGV[i + 3], id)
    end
    table.insert(claimed, id)
  end
end
return claimed
"""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One evaluation task as sent: enough to send it again, unchanged."""

    task_id: str
    candles: list[dict[str, Any]]
    closed_at: str
    """When its candles closed (ISO 8601): a copy sent again is judged by the same age."""
    queue: str
    attempts: int = 0
    """How many times it was sent again."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "candles": self.candles,
                "closed_at": self.closed_at,
                "queue": self.queue,
                "attempts": self.attempts,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, task_id: str, raw: str) -> LedgerEntry:
        data = json.loads(raw)
        return cls(
            task_id=task_id,
            candles=data["candles"],
            closed_at=data["closed_at"],
            queue=data["queue"],
            attempts=int(data["attempts"]),
        )


@dataclass(frozen=True, slots=True)
class Due:
    """What one ``take_due`` claimed."""

    resend: list[LedgerEntry] = field(default_factory=list)
    """To send again now (``attempts`` already counts this send)."""
    given_up: list[LedgerEntry] = field(default_factory=list)
    """Sent again ``max_attempts`` times and still not finished: removed from the ledger."""
    size: int = 0
    """Tasks the ledger holds after this claim."""
    more: bool = False
    """More records may be due than one call takes."""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class EvaluationLedger:
    """The evaluation tasks sent and not yet finished, on Redis (see the module docstring)."""

    def __init__(
        self,
        redis: SyncRedisClient,
        *,
        redispatch_after: float = DEFAULT_REDISPATCH_AFTER,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        clock: Callable[[], float] = time.time,
        batch: int = BATCH,
    ) -> None:
        self.redis = redis
        self.redispatch_after = redispatch_after
        self.max_attempts = max_attempts
        self.clock = clock
        """Wall-clock seconds: senders, workers and sweepers share the due times."""
        self.batch = batch
        self._keys = [EVALUATION_LEDGER, EVALUATION_LEDGER_DUE]
        self._due = redis.register_script(_DUE)
        self._claim = redis.register_script(_CLAIM)

    def record(self, entries: Sequence[LedgerEntry]) -> None:
        """Hold tasks about to be sent, due to be sent again ``redispatch_after`` from now."""
        if not entries:
            return
        due = self.clock() + self.redispatch_after
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(EVALUATION_LEDGER, mapping={e.task_id: e.to_json() for e in entries})
        pipe.zadd(EVALUATION_LEDGER_DUE, {e.task_id: due for e in entries})
        pipe.execute()

    def started(self, task_id: str, hold: float) -> None:
        """A worker runs ``task_id``: not due before ``hold`` seconds from now (never sooner
        than it already was; nothing happens to a task the ledger does not hold)."""
        self.redis.zadd(EVALUATION_LEDGER_DUE, {task_id: self.clock() + hold}, xx=True, gt=True)

    def finished(self, task_id: str) -> None:
        """``task_id`` is done with (whatever its outcome): forget it."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(EVALUATION_LEDGER, task_id)
        pipe.zrem(EVALUATION_LEDGER_DUE, task_id)
        pipe.execute()

    def size(self) -> int:
        """Tasks held: sent and not yet finished or given up."""
        return int(self.redis.hlen(EVALUATION_LEDGER))

    def get(self, task_id: str) -> LedgerEntry | None:
        """The record of ``task_id``, if held."""
        raw = self.redis.hget(EVALUATION_LEDGER, task_id)
        return None if raw is None else LedgerEntry.from_json(task_id, _text(raw))

    def due_at(self, task_id: str) -> float | None:
        """When ``task_id`` is next due to be sent again (Unix seconds), if held."""
        score = self.redis.zscore(EVALUATION_LEDGER_DUE, task_id)
        return None if score is None else float(score)

    def take_due(self) -> Due:
        """Claim the records due now: each is either to be sent again (its next due time set,
        the delay doubled) or, after ``max_attempts`` sends again, given up and removed.
        Safe with several sweepers: each record is claimed by one."""
        now = self.clock()
        found = self._due(keys=self._keys, args=[repr(now), self.batch])
        size, pairs = int(found[0]), found[1:]
        read = [(_text(pairs[i]), _text(pairs[i + 1])) for i in range(0, len(pairs), 2)]
        if not read:
            return Due(size=size)
        plans: dict[str, tuple[LedgerEntry, LedgerEntry | None]] = {}
        args: list[str | float] = [repr(now)]
        for task_id, raw in read:
            entry = LedgerEntry.from_json(task_id, raw)
            if entry.attempts >= self.max_attempts:
                plans[task_id] = (entry, None)
                args += [task_id, raw, "", 0]
            else:
                again = replace(entry, attempts=entry.attempts + 1)
                delay = self.redispatch_after * 2**again.attempts
                plans[task_id] = (entry, again)
                args += [task_id, raw, again.to_json(), repr(now + delay)]
        claimed = [_text(c) for c in self._claim(keys=self._keys, args=args)]
        resend = [again for entry, again in (plans[c] for c in claimed) if again is not None]
        given_up = [entry for entry, again in (plans[c] for c in claimed) if again is None]
        return Due(
            resend=resend,
            given_up=given_up,
            size=size - len(given_up),
            more=len(read) >= self.batch,
        )


def ledger_from_settings(settings: Settings) -> EvaluationLedger:
    """The ledger on the ``ALGOTRADE_REDIS_*`` Redis (the Celery broker's), as configured."""
    return EvaluationLedger(
        create_sync_redis_from_settings(settings, decode_responses=True),
        redispatch_after=settings.evaluation_redispatch_after_seconds,
        max_attempts=settings.evaluation_redispatch_max_attempts,
    )
