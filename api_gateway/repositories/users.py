"""Queries on users, login sessions and refresh tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import RefreshToken, Role, TokenFamily, User
from shared.repository import Page, paginate


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_id(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def by_email(self, email: str, *, for_update: bool = False) -> User | None:
        stmt = select(User).where(User.email == email.lower())
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def email_taken(self, email: str) -> bool:
        return (
            await self.session.scalar(select(User.id).where(User.email == email.lower()))
            is not None
        )

    def add(self, user: User) -> User:
        user.email = user.email.lower()
        self.session.add(user)
        return user

    async def active_admins(self) -> Sequence[User]:
        stmt = select(User).where(User.role == Role.ADMIN, User.is_active.is_(True))
        return (await self.session.scalars(stmt.order_by(User.id))).all()

    async def search(
        self, q: str | None, role: str | None, active: bool | None, limit: int, offset: int
    ) -> Page[User]:
        stmt = select(User)
        if q:
            like = f"%{q.lower()}%"
            stmt = stmt.where(
                or_(func.lower(User.email).like(like), func.lower(User.full_name).like(like))
            )
        if role:
            stmt = stmt.where(User.role == role)
        if active is not None:
            stmt = stmt.where(User.is_active.is_(active))
        return await paginate(self.session, stmt.order_by(User.id), limit, offset)

    async def count_attempt(self, user_id: int, now: datetime) -> tuple[int, datetime | None]:
        """Count one more failed check unless the account is locked at ``now``.

        Returns the count after it and the lock's end: a lock still running means
        nothing was counted. The UPDATE locks the row until the transaction ends, so
        a concurrent check of the same account waits here and sees this one's count.
        """
        await self.session.execute(
            update(User)
            .where(
                User.id == user_id,
                or_(User.locked_until.is_(None), User.locked_until <= now),
            )
            .values(failed_logins=User.failed_logins + 1)
            .execution_options(synchronize_session=False)
        )
        user = await self.session.get(User, user_id, populate_existing=True)
        if user is None:
            return 0, None
        return user.failed_logins, user.locked_until

    async def clear_failures(self, user_id: int) -> None:
        """A right password (and code): the account's count and lock start again."""
        await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(failed_logins=0, locked_until=None)
            .execution_options(synchronize_session=False)
        )
        await self.session.get(User, user_id, populate_existing=True)

    async def lock(self, user_id: int, until: datetime) -> None:
        await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(locked_until=until)
            .execution_options(synchronize_session=False)
        )
        await self.session.get(User, user_id, populate_existing=True)

    async def claim_totp_step(self, user_id: int, step: int) -> bool:
        """Record ``step`` as the last accepted TOTP step; False when it is not newer (a replay).

        One conditional UPDATE, so two requests with the same code cannot both succeed.
        """
        result = await self.session.execute(
            update(User)
            .where(
                User.id == user_id,
                or_(User.totp_last_step.is_(None), User.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add_family(self, family: TokenFamily) -> None:
        self.session.add(family)

    def add_token(self, token: RefreshToken) -> None:
        self.session.add(token)

    async def token_by_hash(self, token_hash: str) -> tuple[RefreshToken, TokenFamily] | None:
        stmt = (
            select(RefreshToken, TokenFamily)
            .join(TokenFamily, TokenFamily.id == RefreshToken.family_id)
            .where(RefreshToken.token_hash == token_hash)
            .with_for_update(of=RefreshToken)
        )
        row = (await self.session.execute(stmt)).first()
        return (row[0], row[1]) if row else None

    async def mark_used(self, token_id: int, now: datetime) -> bool:
        """Mark a token used; False when another request used it first."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
            .values(used_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_family(self, family_id: str, now: datetime, reason: str) -> None:
        await self.session.execute(
            update(TokenFamily)
            .where(TokenFamily.id == family_id, TokenFamily.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )

    async def revoke_all(self, user_id: int, now: datetime, reason: str) -> None:
        await self.session.execute(
            update(TokenFamily)
            .where(TokenFamily.user_id == user_id, TokenFamily.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )

    async def active_families(self, user_id: int, now: datetime) -> Sequence[TokenFamily]:
        """The user's login sessions that can still refresh, most recently used first."""
        stmt = (
            select(TokenFamily)
            .where(
                TokenFamily.user_id == user_id,
                TokenFamily.revoked_at.is_(None),
                TokenFamily.expires_at > now,
            )
            .order_by(TokenFamily.last_used_at.desc())
        )
        return (await self.session.scalars(stmt)).all()
