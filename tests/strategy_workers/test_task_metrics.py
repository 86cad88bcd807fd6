"""The evaluation task's metrics: how long it ran, how late it started, and its failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

import strategy_workers.celery_app as celery_app
from shared.contracts import TASK_EVALUATE_CANDLES, CandleMsg, Timeframe

CLOSED = datetime(2026, 1, 5, 9, 16, tzinfo=UTC)


class Retry(Exception):
    pass


def _task() -> SimpleNamespace:
    def retry(exc: Exception, countdown: float) -> Retry:
        return Retry(str(exc))

    conf = {"algotrade_settings": None, "algotrade_worker_options": None}
    return SimpleNamespace(
        app=SimpleNamespace(conf=conf),
        request=SimpleNamespace(retries=0),
        max_retries=8,
        retry=retry,
    )


def _value(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"task": TASK_EVALUATE_CANDLES}) or 0.0


def test_a_failed_evaluation_is_counted_and_timed(monkeypatch):
    def broken(settings, options):
        raise ConnectionError("the database is away")

    monkeypatch.setattr(celery_app, "runtime_for", broken)
    candle = CandleMsg(
        symbol="INFY",
        timeframe=Timeframe.M1,
        start=CLOSED - timedelta(minutes=1),
        end=CLOSED,
        open=1.0,
        high=1.0,
        low=1.0,
        close=1.0,
        volume=1.0,
        trades=1,
    )
    failures = _value("algotrade_task_failures_total")
    runs = _value("algotrade_task_duration_seconds_count")
    delays = _value("algotrade_task_delay_seconds_count")

    with pytest.raises(Retry):
        celery_app.evaluate_candles(
            _task(), [candle.model_dump(mode="json")], closed_at=CLOSED.isoformat()
        )

    assert _value("algotrade_task_failures_total") - failures == 1
    assert _value("algotrade_task_duration_seconds_count") - runs == 1
    assert _value("algotrade_task_delay_seconds_count") - delays == 1
