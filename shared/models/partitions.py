"""Who owns which partition of the broker accounts: leases with fencing tokens, and members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, UTCDateTime


class OrderPartition(Base):
    """One partition of the broker accounts (``account id % ORDER_PARTITIONS``).

    ``owner`` holds it until ``expires_at`` unless it renews; ``token`` goes up by one
    each time the partition changes hands, and every write of the owner checks it in
    its own transaction (the fencing token), so a processor that lost the lease
    cannot write any more, even if it has not noticed yet.
    """

    __tablename__ = "order_partitions"

    partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    token: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OrderProcessorMember(Base):
    """A running order processor and when it was last seen; partitions are shared among the
    members seen within the lease time."""

    __tablename__ = "order_processors"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
