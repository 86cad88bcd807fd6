"""Which order processor owns which broker accounts: partition leases with fencing tokens.

Accounts are split into ``ORDER_PARTITIONS`` partitions (``account id % N``); each
partition has its own intent stream and one owner at a time, the only process that
decides, books and carries out requests for its accounts. The pattern is the one of
lease-based partition ownership with fencing tokens (Kafka consumer groups, Azure Event
Hubs' ownership records; fencing as Kleppmann describes it), kept in the database the
owners write to, so the lease and the fence are checked where the writes happen:

- Every processor records itself in ``order_processors`` each ``renew_every_s``; a
  member is live while it was seen within ``ttl_s``.
- Partition ``p`` belongs to the live member at index ``p % members`` of the sorted
  names. A processor renews the leases it holds, hands back those that belong to
  another live member, and takes those that belong to it once they are free or their
  lease expired (its owner stopped renewing: dead, or cut off). Starting or stopping a
  processor thus rebalances within a couple of renewals, without restarts.
- Taking a partition raises its ``token``. Every write transaction of an owner checks,
  after locking its accounts, that the tokens of their partitions are still its own
  (``fence``: ``SELECT ... FOR KEY SHARE``), and taking a partition locks its row
  ``FOR UPDATE`` first, which waits for those checks' transactions to end. So once a
  partition has changed hands, nothing of the old owner commits any more, even if the
  old owner has not noticed yet; the new owner starts from everything it committed.

Renewing changes only ``expires_at`` (a ``NO KEY UPDATE``), so it never waits for
the owner's own write transactions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Integer, any_, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.batch_sql import fetch_rows, on_postgres
from shared.clock import Clock
from shared.contracts import ORDER_PARTITIONS
from shared.db import transaction
from shared.models import OrderPartition, OrderProcessorMember

log = logging.getLogger(__name__)

_FENCE_OF = select(OrderPartition.partition, OrderPartition.token).with_for_update(
    read=True, key_share=True
)
_FENCE = _FENCE_OF.where(
    OrderPartition.partition == any_(bindparam("partitions", type_=ARRAY(Integer)))
)
"""PostgreSQL: the tokens of some partitions, share-locked against a takeover (built once:
every writing transaction of the order path checks them)."""


class PartitionLost(RuntimeError):
    """This process no longer owns a partition it was about to write for."""


@dataclass
class Rebalance:
    """What one balancing turn changed for this process."""

    taken: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    """Partitions handed back, or found owned by another (their lease had expired)."""


class Ownership:
    """The partitions this process owns, and the leases behind them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        name: str,
        *,
        partitions: int = ORDER_PARTITIONS,
        ttl_s: float = 5.0,
        renew_every_s: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.name = name
        self.partitions = partitions
        self.ttl = timedelta(seconds=ttl_s)
        self.renew_every_s = renew_every_s
        self.held: dict[int, int] = {}
        """partition -> the token this process took it with."""

    @property
    def owned(self) -> frozenset[int]:
        return frozenset(self.held)

    def owns(self, partition: int) -> bool:
        return partition in self.held

    async def fence(self, session: AsyncSession, partitions: Iterable[int]) -> None:
        """Raise ``PartitionLost`` unless this process still owns ``partitions`` (call in the
        write transaction, after locking the accounts; the check holds until it ends)."""
        wanted = set(partitions)
        if not wanted:
            return
        missing = wanted - self.held.keys()
        if missing:
            raise PartitionLost(f"partitions {sorted(missing)} are not owned here")
        if on_postgres(session):
            params = {"partitions": list(wanted)}
            rows = await fetch_rows(session, "partitions.fence", _FENCE, params, tuples=True)
        else:
            rows = (
                await session.execute(_FENCE_OF.where(OrderPartition.partition.in_(wanted)))
            ).all()
        for partition, token in rows:
            if token != self.held.get(partition):
                raise PartitionLost(f"partition {partition} was taken over (token {token})")

    async def balance(self) -> Rebalance:
        """One turn: be seen, renew what is held, hand back and take partitions."""
        now = self.clock.now()
        turn = Rebalance()
        tokens: dict[int, int] = {}
        async with transaction(self.sessions) as session:
            await self._seen(session, now)
            members = sorted(
                await session.scalars(
                    select(OrderProcessorMember.name).where(
                        OrderProcessorMember.seen_at >= now - self.ttl
                    )
                )
            )
            if self.name not in members:
                members = sorted([*members, self.name])
            rows = {
                r.partition: r
                for r in (await session.scalars(select(OrderPartition))).all()
                if r.partition < self.partitions
            }
            missing = [p for p in range(self.partitions) if p not in rows]
            for partition in missing:  # a deployment with more partitions than migrated
                rows[partition] = OrderPartition(partition=partition, token=0)
                session.add(rows[partition])
            if missing:
                await session.flush()
            for partition, token in list(self.held.items()):
                row = rows.get(partition)
                if row is None or row.owner != self.name or row.token != token:
                    del self.held[partition]
                    turn.lost.append(partition)
            mine = {p for p in range(self.partitions) if members[p % len(members)] == self.name}
            for partition in sorted(self.held):
                if partition not in mine:  # another live member's: hand it back
                    await session.execute(
                        update(OrderPartition)
                        .where(
                            OrderPartition.partition == partition,
                            OrderPartition.owner == self.name,
                            OrderPartition.token == self.held[partition],
                        )
                        .values(owner=None, expires_at=now)
                    )
                    del self.held[partition]
                    turn.lost.append(partition)
            if self.held:
                await session.execute(
                    update(OrderPartition)
                    .where(
                        OrderPartition.partition.in_(list(self.held)),
                        OrderPartition.owner == self.name,
                    )
                    .values(expires_at=now + self.ttl)
                )
            for partition in sorted(mine - self.held.keys()):
                row = rows.get(partition)
                if row is None or not _free(row, now):
                    continue
                taken = await self._take(session, partition, now)
                if taken is not None:
                    tokens[partition] = taken
        # Held only once committed: a turn that fails takes nothing.
        self.held.update(tokens)
        turn.taken = sorted(tokens)
        if turn.taken or turn.lost:
            log.info(
                "%s took partitions %s, gave up %s; holds %d of %d (%d members)",
                self.name,
                turn.taken,
                turn.lost,
                len(self.held),
                self.partitions,
                len(members),
            )
        return turn

    async def _take(self, session: AsyncSession, partition: int, now: datetime) -> int | None:
        """Take a free partition: lock its row (waiting for the fenced transactions of its last
        owner to end), check it is still free, and raise its token."""
        row = await session.scalar(
            select(OrderPartition)
            .where(OrderPartition.partition == partition)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if row is None or not _free(row, now):
            return None
        row.token += 1
        row.owner = self.name
        row.expires_at = now + self.ttl
        await session.flush()
        return row.token

    async def _seen(self, session: AsyncSession, now: datetime) -> None:
        found = await session.execute(
            update(OrderProcessorMember)
            .where(OrderProcessorMember.name == self.name)
            .values(seen_at=now)
        )
        if found.rowcount == 0:  # type: ignore[attr-defined]
            session.add(OrderProcessorMember(name=self.name, seen_at=now))
            await session.flush()

    async def release(self) -> list[int]:
        """Hand back every partition and leave (a clean stop): the others take over at once."""
        given = sorted(self.held)
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            for partition, token in self.held.items():
                await session.execute(
                    update(OrderPartition)
                    .where(
                        OrderPartition.partition == partition,
                        OrderPartition.owner == self.name,
                        OrderPartition.token == token,
                    )
                    .values(owner=None, expires_at=now)
                )
            await session.execute(
                delete(OrderProcessorMember).where(OrderProcessorMember.name == self.name)
            )
        self.held.clear()
        return given


def _free(row: OrderPartition, now: datetime) -> bool:
    return row.owner is None or row.expires_at is None or row.expires_at <= now
