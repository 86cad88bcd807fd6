"""Finding the user a command is about, and the admin it is acted by."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api_gateway.repositories.users import UserRepository
from shared.errors import Forbidden, NotFound
from shared.models import Role, User

_MAX_ID_DIGITS = 18  # ids are signed 64-bit integers


async def find_user(session: AsyncSession, ref: str) -> User:
    """The user with id ``ref`` (all digits) or e-mail address ``ref``; 404 otherwise."""
    ref = ref.strip()
    users = UserRepository(session)
    if ref.isdigit():
        user = await users.by_id(int(ref)) if len(ref) <= _MAX_ID_DIGITS else None
    else:
        user = await users.by_email(ref)
    if user is None:
        raise NotFound(f"no user {ref!r}", code="user_not_found")
    return user


async def acting_admin(session: AsyncSession, email: str | None) -> User | None:
    """The admin named by ``--as`` (None: the system actor); 403 unless an active admin."""
    if email is None:
        return None
    user = await UserRepository(session).by_email(email.strip())
    if user is None or user.role != Role.ADMIN or not user.is_active:
        raise Forbidden(f"--as {email}: not an active admin", code="admin_required")
    return user


def actor_name(admin: User | None) -> str:
    return admin.email if admin is not None else "system"
