"""A user's two-factor recovery codes (digests only), reachable only through their owner."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import RecoveryCode


class RecoveryCodeRepository:
    def __init__(self, session: AsyncSession, user_id: int) -> None:
        self.session = session
        self.user_id = user_id

    async def replace(self, digests: list[str], now: datetime) -> None:
        """The user's codes become ``digests``: every earlier code, used or not, is void."""
        await self.clear()
        self.session.add_all(
            RecoveryCode(user_id=self.user_id, code_hash=d, created_at=now) for d in digests
        )
        await self.session.flush()

    async def clear(self) -> None:
        await self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == self.user_id))

    async def spend(self, code_hash: str, now: datetime) -> bool:
        """Mark the unused code with this digest used; False when there is none (wrong or
        spent). One conditional UPDATE, so two requests with one code cannot both pass."""
        result = await self.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == self.user_id,
                RecoveryCode.code_hash == code_hash,
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def status(self) -> tuple[int, datetime | None]:
        """How many codes are unused, and when the current set was made (None: no set)."""
        row = (
            await self.session.execute(
                select(
                    func.count(RecoveryCode.id).filter(RecoveryCode.used_at.is_(None)),
                    func.max(RecoveryCode.created_at),
                ).where(RecoveryCode.user_id == self.user_id)
            )
        ).one()
        return int(row[0] or 0), row[1]
