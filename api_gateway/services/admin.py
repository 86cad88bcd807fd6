"""Admin operations on users: search, enable/disable, roles, the audit trail."""

from __future__ import annotations

from datetime import datetime

from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api_gateway.context import GatewayContext
from api_gateway.repositories.audit import AuditRepository
from api_gateway.repositories.users import UserRepository
from api_gateway.services.auth import AuthService, RequestMeta
from shared.contracts import ControlEvent
from shared.errors import Conflict, NotFound
from shared.models import AuditEntry, Role, User
from shared.repository import Page

# The type of the sign-up and login schemas' ``email``: an account stored with an address
# they refuse (one made by an older ``create-admin``) can never sign in.
_LOGIN_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)


def can_sign_in(user: User) -> bool:
    """Whether ``user`` is active and has an e-mail address the login accepts."""
    if not user.is_active:
        return False
    try:
        _LOGIN_EMAIL.validate_python(user.email)
    except ValidationError:
        return False
    return True


class AdminService:
    """``admin`` is the acting administrator; None is the platform itself (the command
    line's system actor): audited with no actor."""

    def __init__(
        self,
        ctx: GatewayContext,
        session: AsyncSession,
        admin: User | None,
        events: list[ControlEvent],
    ) -> None:
        self.ctx = ctx
        self.session = session
        self.actor_id = admin.id if admin is not None else None
        self.users = UserRepository(session)
        self.audit = AuditRepository(session)
        self.auth = AuthService(ctx, session, events)

    async def search_users(
        self, q: str | None, role: str | None, active: bool | None, limit: int, offset: int
    ) -> Page[User]:
        return await self.users.search(q, role, active, limit, offset)

    async def get_user(self, user_id: int) -> User:
        user = await self.users.by_id(user_id)
        if user is None:
            raise NotFound("user not found")
        return user

    async def set_active(self, user_id: int, active: bool, meta: RequestMeta) -> User:
        user = await self.get_user(user_id)
        if user.id == self.actor_id and not active:
            raise Conflict("you cannot disable your own account", code="self_disable")
        if user.is_active == active:
            return user
        if not active and await self._last_admin(user):
            raise Conflict("the last active admin cannot be disabled", code="last_admin")
        user.is_active = active
        if active:
            self.audit.record(
                "admin.user_enable",
                actor_id=self.actor_id,
                ts=self.ctx.clock.now(),
                target_type="user",
                target_id=user.id,
                ip_address=meta.ip_address,
            )
        else:
            await self.auth.end_all_sessions(
                user, "disabled_by_admin", actor_id=self.actor_id, meta=meta
            )
        return user

    async def set_role(self, user_id: int, role: str, meta: RequestMeta) -> User:
        user = await self.get_user(user_id)
        if user.role == role:
            return user
        if await self._last_admin(user):
            raise Conflict("the last active admin cannot be demoted", code="last_admin")
        previous, user.role = user.role, role
        self.auth.events.append(
            ControlEvent(action="role_changed", user_id=user.id, ts=self.ctx.clock.now())
        )
        self.audit.record(
            "admin.user_role",
            actor_id=self.actor_id,
            ts=self.ctx.clock.now(),
            target_type="user",
            target_id=user.id,
            ip_address=meta.ip_address,
            details={"from": previous, "to": role},
        )
        return user

    async def _last_admin(self, user: User) -> bool:
        """Whether ``user`` is the only admin left who can sign in. Admins who cannot sign in
        (disabled, or with an address the login refuses) do not count: they administer
        nothing."""
        if user.role != Role.ADMIN or not can_sign_in(user):
            return False
        admins = await self.users.active_admins()
        return not any(a.id != user.id and can_sign_in(a) for a in admins)

    async def audit_log(
        self,
        *,
        actor_id: int | None,
        action: str | None,
        target_type: str | None,
        target_id: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> Page[AuditEntry]:
        return await self.audit.search(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
