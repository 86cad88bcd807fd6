"""Tunables of the order processor, with defaults that suit both profiles.

They are not in ``shared.config.Settings`` (yet): the processor's entry points
take them as an argument, so tests and benchmarks can shorten the timers.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field


def _consumer_name() -> str:
    # One name per process incarnation: a restarted processor is a new consumer,
    # and the entries its dead predecessor held are claimed back by idle time.
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class ProcessorOptions:
    """Timers, batch sizes and limits of one order processor."""

    consumer: str = field(default_factory=_consumer_name)
    read_count: int = 64
    """Stream entries read per batch."""
    read_block_ms: int = 500
    concurrency: int = 8
    """Transactions deciding intents at once (each a group of accounts; one account's
    intents are decided in stream order)."""
    batch_min: int = 32
    """Intents of a read are split into groups of accounts only when each group gets at
    least this many."""
    claim_idle_ms: int = 30_000
    """An entry pending this long belongs to a dead consumer and is claimed."""
    claim_every_s: float = 5.0
    sweep_every_s: float = 1.0
    """Timer of the sweeper: stale PENDING orders, stuck SUBMITTED ones, UNKNOWN ones."""
    sweep_batch: int = 500
    pending_after_s: float = 3.0
    """A PENDING order this old that nobody processed is picked up by the sweeper."""
    stuck_after_s: float = 10.0
    """A SUBMITTED order this old is reconciled with the broker by client order id."""
    broker_timeout_s: float = 5.0
    """A broker call that takes longer is treated as sent with an unknown outcome."""
    advance_every_s: float = 1.0
    """Timer that lets paper orders expire when ticks stop."""
    resync_every_s: float = 1.0
    """Timer that brings the paper book in line with cancels and changes made through the API."""
    square_off_every_s: float = 5.0
    mark_every_s: float = 1.0
    """Timer that re-sends the account event of accounts whose open positions' marks moved."""
    lease_ttl_s: float = 5.0
    """A partition whose owner has not renewed its lease for this long goes to another
    processor (how long a dead processor's accounts wait)."""
    lease_renew_every_s: float = 1.0
    """Timer of the leases: renew, hand back, take over."""
    stream_maxlen: int | None = 1_000_000
    """Approximate length the intent stream is trimmed to on append."""


DEFAULT_OPTIONS = ProcessorOptions()
