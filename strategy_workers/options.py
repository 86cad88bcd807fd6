"""Tunables of the strategy workers (environment variables ``ALGOTRADE_STRATEGY_*``).

Kept apart from ``shared.config.Settings`` so the Celery worker process (started
by ``celery -A strategy_workers.celery_app worker``) and tests can set them from
the environment; they may move into ``Settings`` unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.tasks import DEFAULT_QUEUE, DEFAULT_SHARDS


class WorkerOptions(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ALGOTRADE_STRATEGY_", env_file=".env", extra="ignore", frozen=True
    )

    concurrency: int = Field(1, ge=1, le=64)
    """Worker processes (prefork) or threads of one Celery worker."""
    pool: Literal["prefork", "solo", "threads"] = "prefork"
    shards: int = Field(DEFAULT_SHARDS, ge=1, le=1024)
    """Tasks a burst of closed candles is split into (by symbol)."""
    queue: str = DEFAULT_QUEUE
    visibility_timeout: int = Field(120, ge=1)
    """Seconds after which a task taken by a worker that died unacknowledged is delivered again."""
    restore_interval: float = Field(10.0, gt=0)
    """Seconds between the broker's checks for such overdue tasks."""
    task_timeout: float = Field(120.0, gt=0)
    """Seconds one evaluation may take before the task gives up and is retried."""
    max_retries: int = Field(8, ge=0)
    subscription_refresh_seconds: float = Field(30.0, gt=0)
    """Full reload of the subscription cache (heals a missed control event)."""
