"""Conversions between aware datetimes and int64 UTC epoch nanoseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ns(ts: datetime) -> int:
    """Epoch nanoseconds of an aware datetime (exact, no float rounding)."""
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    delta = ts.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def from_ns(ns: int) -> datetime:
    """An aware UTC datetime (microsecond precision) from epoch nanoseconds."""
    return _EPOCH + timedelta(microseconds=ns // 1000)
