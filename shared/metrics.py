"""Every Prometheus metric of the platform, declared once (docs/operations.md "Metrics").

Each service updates the ones it owns and serves all of them on ``/metrics``
(``render``); a metric a process never touches is exported with no samples or
at zero. A service that runs several processes (gateway workers, Celery's
prefork pool) sets ``PROMETHEUS_MULTIPROC_DIR`` to a directory of its own,
emptied at start: each process then writes its values there and ``render``
adds them up (prometheus-client's multiprocess mode; gauges say how).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# -- HTTP (gateway, WebSocket service) ------------------------------------------
HTTP_REQUESTS = Counter(
    "algotrade_http_requests_total",
    "HTTP requests answered, by route template and status code.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "algotrade_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["service", "method", "route"],
    buckets=_LATENCY_BUCKETS,
)

# -- market data -------------------------------------------------------------------
TICKS = Counter(
    "algotrade_ticks_total", "Ticks received from a feed (rate(): ticks per second).", ["feed"]
)
TICKS_REJECTED = Counter(
    "algotrade_ticks_rejected_total", "Ticks a feed sent that validation refused.", ["feed"]
)
CANDLES_CLOSED = Counter(
    "algotrade_candles_closed_total", "Candles closed, by timeframe.", ["feed", "timeframe"]
)
EVENTS_DROPPED = Counter(
    "algotrade_market_events_dropped_total",
    "Tick and candle events not published because the bus was failing (pub/sub, at most once).",
    ["feed"],
)
CANDLE_LAG = Gauge(
    "algotrade_candle_close_lag_seconds",
    "Seconds between a candle's end and its close by the engine (the last one closed).",
    ["feed", "timeframe"],
    multiprocess_mode="max",
)
TICKSTORE_BUFFERED = Gauge(
    "algotrade_tickstore_buffered_ticks",
    "Ticks held in the tick store's write buffer (waiting for InfluxDB).",
    multiprocess_mode="livesum",
)
TICKSTORE_BUFFER_FILL = Gauge(
    "algotrade_tickstore_buffer_fill_ratio",
    "Tick store write buffer fill: held / capacity (1: the oldest ticks are being shed).",
    multiprocess_mode="max",
)
TICKSTORE_SHED = Gauge(
    "algotrade_tickstore_shed_ticks",
    "Ticks dropped from a full tick store buffer since the process started.",
    multiprocess_mode="livesum",
)

# -- the bus -----------------------------------------------------------------------
STREAM_PENDING = Gauge(
    "algotrade_stream_pending",
    "Entries of a stream taken by a consumer and not yet acknowledged.",
    ["stream", "group"],
    multiprocess_mode="max",
)
STREAM_CONSUMERS = Gauge(
    "algotrade_stream_consumers",
    "Consumers registered in a stream's group (live order processors, and dead ones until "
    "they expire).",
    ["stream", "group"],
    multiprocess_mode="max",
)

# -- strategy workers (Celery) -----------------------------------------------------
TASK_LATENCY = Histogram(
    "algotrade_task_duration_seconds",
    "Time a Celery task ran, by task name.",
    ["task"],
    buckets=_LATENCY_BUCKETS,
)
TASK_DELAY = Histogram(
    "algotrade_task_delay_seconds",
    "Seconds from a candle's close to the start of the task that evaluates it.",
    ["task"],
    buckets=_LATENCY_BUCKETS,
)
TASK_FAILURES = Counter(
    "algotrade_task_failures_total", "Celery tasks that raised, by task name.", ["task"]
)
SIGNALS = Counter(
    "algotrade_signals_total", "Strategy signals that became order intents.", ["action"]
)
TASKS_RESENT = Counter(
    "algotrade_tasks_resent_total",
    "Tasks the task ledger sent again because they did not finish in time, by task name.",
    ["task"],
)
TASKS_GIVEN_UP = Counter(
    "algotrade_tasks_given_up_total",
    "Tasks the task ledger stopped sending again after its last attempt (never finished).",
    ["task"],
)
TASK_LEDGER_SIZE = Gauge(
    "algotrade_task_ledger_size",
    "Tasks sent and not yet finished, held by the task ledger (sampled by its sweeper).",
    ["task"],
    multiprocess_mode="max",
)

# -- orders ------------------------------------------------------------------------
ORDER_TRANSITIONS = Counter(
    "algotrade_order_transitions_total",
    "Order changes committed, by the state the order reached.",
    ["status"],
)
RISK_DENIALS = Counter(
    "algotrade_risk_denials_total",
    "Orders DENIED by our own checks, by the check's code.",
    ["check"],
)
FILLS = Counter("algotrade_fills_total", "Fills booked, by side.", ["side"])

# -- WebSocket service -------------------------------------------------------------
WS_CONNECTIONS = Gauge(
    "algotrade_ws_connections",
    "Open WebSocket connections.",
    multiprocess_mode="livesum",
)
WS_DROPPED = Counter(
    "algotrade_ws_dropped_messages_total",
    "Messages not delivered to a slow WebSocket client (queue full; oldest dropped).",
)


def multiprocess() -> bool:
    """Whether this process writes its values to ``PROMETHEUS_MULTIPROC_DIR``."""
    return bool(os.environ.get(MULTIPROC_ENV))


def render() -> bytes:
    """The exposition text of every metric (all processes' in multiprocess mode)."""
    if multiprocess():
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()


def process_exited(pid: int) -> None:
    """Forget the live gauges of a child process that ended (multiprocess mode)."""
    if multiprocess():
        _multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
