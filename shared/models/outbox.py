"""Events written in the transaction of the change that caused them (the transactional outbox)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, BigId, UTCDateTime, ids_never_reused


class OutboxBatch(Base):
    """The events of one committed transaction, until they have been published.

    ``messages`` is a JSON array of ``[channel, message]`` pairs, each message as
    the bus encodes it (with its ``event_id``). A batch is deleted once published;
    one still here well after its commit was left behind by a writer that stopped
    in between, and is published by the relay (again, maybe: delivery is at least
    once and consumers drop an event id they have seen).
    """

    __tablename__ = "outbox"
    __table_args__ = ids_never_reused()

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    messages: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
