"""Sign-up, login with throttling and optional TOTP, refresh-token rotation, logout, passwords."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from api_gateway.context import GatewayContext
from api_gateway.repositories.audit import AuditRepository
from api_gateway.repositories.recovery_codes import RecoveryCodeRepository
from api_gateway.repositories.users import TokenRepository, UserRepository
from api_gateway.services import recovery_codes
from api_gateway.services.secret_checks import Failure, SecretChecks
from shared.contracts import ControlEvent
from shared.errors import BadRequest, Conflict, Unauthorized
from shared.models import RefreshToken, TokenFamily, User
from shared.security import tokens


@dataclass(frozen=True)
class RequestMeta:
    ip_address: str
    user_agent: str | None


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_at: datetime


class AuthService:
    def __init__(
        self, ctx: GatewayContext, session: AsyncSession, events: list[ControlEvent]
    ) -> None:
        self.ctx = ctx
        self.session = session
        self.users = UserRepository(session)
        self.tokens = TokenRepository(session)
        self.audit = AuditRepository(session)
        self.checks = SecretChecks(ctx, session)
        self.events = events

    @property
    def now(self) -> datetime:
        return self.ctx.clock.now()

    async def register(self, email: str, password: str, full_name: str, meta: RequestMeta) -> User:
        if await self.users.email_taken(email):
            raise Conflict("an account with this e-mail already exists", code="email_taken")
        user = self.users.add(
            User(
                email=email, full_name=full_name, password_hash=await self.ctx.hasher.hash(password)
            )
        )
        await self.session.flush()
        self.audit.record(
            "user.register",
            actor_id=user.id,
            ts=self.now,
            target_type="user",
            target_id=user.id,
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
        )
        return user

    async def login(
        self,
        email: str,
        password: str,
        totp_code: str | None,
        meta: RequestMeta,
        recovery_code: str | None = None,
    ) -> IssuedTokens:
        now = self.now
        user = await self.users.by_email(email)
        async with self.checks.attempt(user, email, meta) as attempt:
            ok = await self.ctx.hasher.verify(password, user.password_hash if user else None)
            if not ok or user is None:
                self.checks.failed(attempt, meta, Failure.BAD_PASSWORD)
                raise Unauthorized(
                    "incorrect e-mail or password", code="invalid_credentials", keep_changes=True
                )
            if not user.is_active:
                raise Unauthorized("this account is disabled", code="account_disabled")
            if user.totp_enabled:
                if totp_code is None and recovery_code is None:
                    raise Unauthorized("a TOTP code is required", code="totp_required")
                failure = await self.checks.second_factor(user, totp_code, recovery_code)
                if failure is not None:
                    self.checks.failed(attempt, meta, failure)
                    raise Unauthorized(failure.message, code=failure.code, keep_changes=True)
            await self.checks.passed(attempt)
        user.last_login_at = now
        issued = await self._start_session(user, meta)
        self.audit.record(
            "user.login",
            actor_id=user.id,
            ts=now,
            target_type="user",
            target_id=user.id,
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
            details={"with": "recovery_code"} if recovery_code is not None else {},
        )
        return issued

    async def _start_session(self, user: User, meta: RequestMeta) -> IssuedTokens:
        now = self.now
        family = TokenFamily(
            id=str(uuid.uuid4()),
            user_id=user.id,
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(days=self.ctx.settings.refresh_token_days),
            ip_address=meta.ip_address,
            user_agent=(meta.user_agent or "")[:300] or None,
        )
        self.tokens.add_family(family)
        await self.session.flush()  # the family row must exist before its first token
        return self._issue(user, family)

    def _issue(self, user: User, family: TokenFamily) -> IssuedTokens:
        now = self.now
        refresh = tokens.new_token()
        self.tokens.add_token(
            RefreshToken(family_id=family.id, token_hash=tokens.digest(refresh), issued_at=now)
        )
        access, expires = self.ctx.jwt.encode_access(user.id, family.id, user.token_version, now)
        return IssuedTokens(access, refresh, expires)

    async def refresh(self, refresh_token: str, meta: RequestMeta) -> IssuedTokens:
        """Rotate: the presented token is spent; presenting a spent one revokes its family."""
        now = self.now
        found = await self.tokens.token_by_hash(tokens.digest(refresh_token))
        if found is None:
            raise Unauthorized("invalid refresh token", code="invalid_token")
        token, family = found
        if family.revoked_at is not None or family.expires_at <= now:
            raise Unauthorized("this session has ended", code="session_ended")
        idle = timedelta(minutes=self.ctx.settings.session_timeout_minutes)
        if token.used_at is not None or not await self.tokens.mark_used(token.id, now):
            await self._revoke(family.id, family.user_id, "refresh_reuse", meta)
            raise Unauthorized(
                "refresh token reuse detected; the session has been ended",
                code="token_reuse",
                keep_changes=True,
            )
        if now - family.last_used_at > idle:
            await self._revoke(family.id, family.user_id, "idle_timeout", meta)
            raise Unauthorized("the session timed out", code="session_ended", keep_changes=True)
        user = await self.users.by_id(family.user_id)
        if user is None or not user.is_active:
            raise Unauthorized("this account is disabled", code="account_disabled")
        family.last_used_at = now
        return self._issue(user, family)

    async def _revoke(self, family_id: str, user_id: int, reason: str, meta: RequestMeta) -> None:
        now = self.now
        await self.tokens.revoke_family(family_id, now, reason)
        self.audit.record(
            "session.revoked",
            actor_id=user_id,
            ts=now,
            target_type="session",
            target_id=family_id,
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
            details={"reason": reason},
        )
        self.events.append(
            ControlEvent(
                action="session_revoked",
                user_id=user_id,
                session_id=family_id,
                reason=reason,
                ts=now,
            )
        )

    async def logout(self, user: User, session_id: str, meta: RequestMeta) -> None:
        await self.tokens.revoke_family(session_id, self.now, "logout")
        self.audit.record(
            "user.logout",
            actor_id=user.id,
            ts=self.now,
            target_type="session",
            target_id=session_id,
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
        )
        self.events.append(
            ControlEvent(
                action="session_revoked",
                user_id=user.id,
                session_id=session_id,
                reason="logout",
                ts=self.now,
            )
        )

    async def change_password(self, user: User, current: str, new: str, meta: RequestMeta) -> None:
        await self.checks.reauthenticate(user, current, None, "password_change", meta)
        if current == new:
            raise BadRequest(
                "the new password must differ from the current one", code="password_unchanged"
            )
        user.password_hash = await self.ctx.hasher.hash(new)
        await self.end_all_sessions(user, "password_change", actor_id=user.id, meta=meta)

    async def end_all_sessions(
        self, user: User, reason: str, *, actor_id: int | None, meta: RequestMeta
    ) -> None:
        user.token_version += 1
        await self.tokens.revoke_all(user.id, self.now, reason)
        self.audit.record(
            f"user.{reason}",
            actor_id=actor_id,
            ts=self.now,
            target_type="user",
            target_id=user.id,
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
        )
        self.events.append(
            ControlEvent(action="session_revoked", user_id=user.id, reason=reason, ts=self.now)
        )

    # TOTP
    def totp_setup(self, user: User) -> tuple[str, str]:
        if user.totp_enabled:
            raise Conflict("two-factor authentication is already enabled", code="totp_enabled")
        secret = pyotp.random_base32()
        user.totp_secret_encrypted = self.ctx.secrets.encrypt(secret)
        user.totp_last_step = None  # steps count per seed
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="algotrade")
        return secret, uri

    async def totp_enable(self, user: User, code: str, meta: RequestMeta) -> list[str]:
        """Turn two-factor on; the new recovery codes, shown this once."""
        if user.totp_enabled:
            raise Conflict("two-factor authentication is already enabled", code="totp_enabled")
        # The seed was just handed to this session, so a wrong code is no guess at a secret
        # (not counted); the right one is spent like any other.
        failure = await self.checks.totp(user, code)
        if failure is not None:
            raise BadRequest(failure.message, code=failure.code)
        user.totp_enabled = True
        codes = await self._new_recovery_codes(user)
        self.audit.record(
            "user.totp_enabled",
            actor_id=user.id,
            ts=self.now,
            target_type="user",
            target_id=user.id,
            ip_address=meta.ip_address,
        )
        return codes

    async def totp_disable(
        self,
        user: User,
        password: str,
        code: str | None,
        meta: RequestMeta,
        recovery_code: str | None = None,
    ) -> None:
        if not user.totp_enabled:
            raise BadRequest("two-factor authentication is not enabled", code="totp_not_enabled")
        await self.checks.reauthenticate(
            user, password, code, "totp_disable", meta, recovery_code=recovery_code
        )
        user.totp_enabled = False
        user.totp_secret_encrypted = None
        user.totp_last_step = None
        await RecoveryCodeRepository(self.session, user.id).clear()
        self.audit.record(
            "user.totp_disabled",
            actor_id=user.id,
            ts=self.now,
            target_type="user",
            target_id=user.id,
            ip_address=meta.ip_address,
            details={"with": "recovery_code"} if recovery_code is not None else {},
        )

    async def regenerate_recovery_codes(
        self, user: User, password: str, code: str, meta: RequestMeta
    ) -> list[str]:
        """A fresh set of recovery codes (the old ones stop working), after the password
        and a TOTP code."""
        if not user.totp_enabled:
            raise BadRequest("two-factor authentication is not enabled", code="totp_not_enabled")
        await self.checks.reauthenticate(user, password, code, "recovery_codes", meta)
        codes = await self._new_recovery_codes(user)
        self.audit.record(
            "user.recovery_codes_regenerated",
            actor_id=user.id,
            ts=self.now,
            target_type="user",
            target_id=user.id,
            ip_address=meta.ip_address,
        )
        return codes

    async def recovery_codes_status(self, user: User) -> tuple[int, datetime | None]:
        return await RecoveryCodeRepository(self.session, user.id).status()

    async def _new_recovery_codes(self, user: User) -> list[str]:
        codes = recovery_codes.new_codes()
        digests = [recovery_codes.digest(user.id, recovery_codes.normalise(c) or c) for c in codes]
        await RecoveryCodeRepository(self.session, user.id).replace(digests, self.now)
        return codes
