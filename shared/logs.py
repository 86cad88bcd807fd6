"""Logging of every process: one line per event (JSON or text), with a correlation id.

The correlation id follows one piece of work across processes: the gateway sets it
from ``X-Request-ID`` (or makes one), a strategy evaluation makes one per signal,
the order messages carry it (``OrderIntent.correlation_id``), and the order
processor sets it again while it handles the message. Every log line written
meanwhile carries it (``correlation_id``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

_correlation: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

# Loggers that say something on every request or write: kept at WARNING and above.
QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "asyncio", "aiosqlite")

# Attributes every LogRecord has; anything else was passed with ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str | None:
    """The correlation id of the work under way in this context, if any."""
    return _correlation.get()


def valid_correlation_id(value: str | None) -> str | None:
    """``value`` when it is a usable id (at most 128 plain characters), else None."""
    return value if value is not None and _VALID_ID.match(value) else None


@contextlib.contextmanager
def correlation(value: str | None) -> Iterator[str]:
    """Set the correlation id for the ``with`` block (a new one when ``value`` is None)."""
    cid = valid_correlation_id(value) or new_correlation_id()
    token = _correlation.set(cid)
    try:
        yield cid
    finally:
        _correlation.reset(token)


def set_correlation_id(value: str | None) -> None:
    """Set the correlation id of this context until it ends (a task, a request)."""
    _correlation.set(valid_correlation_id(value))


class CorrelationFilter(logging.Filter):
    """Puts the context's correlation id on every record (``record.correlation_id``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            record.correlation_id = _correlation.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, correlation id, service,
    the fields given with ``extra=``, and the traceback as one string field."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.service:
            out["service"] = self.service
        cid = getattr(record, "correlation_id", None) or _correlation.get()
        if cid and cid != "-":
            out["correlation_id"] = cid
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out and key != "correlation_id":
                out[key] = value
        if record.exc_info:
            out["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            out["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["traceback"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s]: %(message)s"


def log_handler(log_format: str, service: str | None = None) -> logging.Handler:
    """A stderr handler writing ``json`` lines or ``text``, with the correlation id."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CorrelationFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(level: str, log_format: str, service: str | None = None) -> None:
    """The root logger of this process: one handler, the level, the noisy loggers quiet.

    Replaces handlers installed before (``basicConfig``, a server's own), so every line
    has the same shape; uvicorn's and Celery's loggers propagate to it.
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(log_handler(log_format, service))
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True
