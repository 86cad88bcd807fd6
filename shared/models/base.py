"""Declarative base and the column types every model shares (exact money, aware UTC times)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT identities on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def ids_never_reused(*constraints: Any) -> tuple[Any, ...]:
    """``__table_args__`` of a table keyed by a ``BigId`` ``id``: no id is ever handed out twice.

    PostgreSQL sequences never go back; SQLite without AUTOINCREMENT reuses the
    highest rowid once that row is deleted, and whatever was cached under the
    old id (an account's cash and positions) would pass to the new row.
    """
    return (*constraints, {"sqlite_autoincrement": True})


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


_T = TypeVar("_T")


class _ReadByAsyncpg(TypeDecorator[_T]):
    """A column type whose values asyncpg reads in their final form itself (NUMERIC as
    Decimal, TIMESTAMPTZ as UTC datetimes): there, no call per value read (the order path
    reads thousands a second); elsewhere the type's own conversion."""

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.driver == "asyncpg":
            return self.impl_instance.result_processor(dialect, coltype)
        return super().result_processor(dialect, coltype)


class UTCDateTime(_ReadByAsyncpg[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(_ReadByAsyncpg[Decimal]):
    """Exact decimals: NUMERIC on PostgreSQL, text on SQLite (whose NUMERIC is a float)."""

    impl = Numeric(28, 8)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(28, 8, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        dec = Decimal(value) if not isinstance(value, Decimal) else value
        if not dec.is_finite():
            raise ValueError("money must be finite")
        if dialect.name != "sqlite":
            return dec
        # SQLite compares text: every zero is written "0", so "quantity != 0" finds closed
        # positions whatever the zero's exponent (3.5 - 3.5 is Decimal("0.0")).
        return str(dec) if dec else "0"

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value))


def utcnow() -> datetime:
    return datetime.now(UTC)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )
