"""Checks of what a user knows (password, TOTP code), throttled per account and per address.

Login, password change and two-factor disable all check here, so a wrong guess
counts the same wherever it is made: ``MAX_LOGIN_ATTEMPTS`` per account (a
lockout stored on the row, doubling up to an hour) and
``MAX_LOGIN_ATTEMPTS_PER_ADDRESS`` per address in a sliding window. A success
clears the account's count, never the address's: an attacker's own account
must not reset the count of the guesses made at others. A TOTP code is
accepted once: its time step must be newer than the last one accepted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from api_gateway.context import GatewayContext
from api_gateway.repositories.audit import AuditRepository
from api_gateway.repositories.users import UserRepository
from api_gateway.services.totp import matching_step
from shared.errors import BadRequest, TooManyRequests
from shared.models import User

if TYPE_CHECKING:  # auth.py builds on this module
    from api_gateway.services.auth import RequestMeta

MAX_LOCKOUT = timedelta(hours=1)


class Failure(StrEnum):
    """Why a check failed; the value is the audited reason."""

    BAD_PASSWORD = "bad_password"  # noqa: S105 (a reason, not a password)
    BAD_TOTP = "bad_totp"
    TOTP_REUSED = "totp_reused"

    @property
    def code(self) -> str:
        return _ERRORS[self][0]

    @property
    def message(self) -> str:
        return _ERRORS[self][1]


_ERRORS = {
    Failure.BAD_PASSWORD: ("invalid_password", "the password is incorrect"),
    Failure.BAD_TOTP: ("invalid_totp", "incorrect TOTP code"),
    Failure.TOTP_REUSED: (
        "totp_reused",
        "this TOTP code has been used already; wait for the next one",
    ),
}


class SecretChecks:
    def __init__(self, ctx: GatewayContext, session: AsyncSession) -> None:
        self.ctx = ctx
        self.session = session
        self.users = UserRepository(session)
        self.audit = AuditRepository(session)

    def refusal(
        self, user: User | None, meta: RequestMeta, now: datetime, *, keep_changes: bool = False
    ) -> TooManyRequests | None:
        """The 429 due before checking anything, when the address or the account must wait."""
        wait = self.ctx.address_throttle.retry_after(meta.ip_address, now)
        if wait:
            return TooManyRequests(
                "too many failed password or code checks from this address; try again later",
                retry_after=wait,
                code="address_throttled",
                keep_changes=keep_changes,
            )
        if user is not None and user.locked_until is not None and user.locked_until > now:
            return TooManyRequests(
                "too many failed password or code checks for this account; try again later",
                retry_after=int((user.locked_until - now).total_seconds()) + 1,
                code="account_locked",
                keep_changes=keep_changes,
            )
        return None

    def generator(self, user: User) -> pyotp.TOTP:
        """The user's TOTP generator (its seed is stored encrypted)."""
        if not user.totp_secret_encrypted:
            raise BadRequest("two-factor authentication is not set up", code="totp_not_set_up")
        return pyotp.TOTP(self.ctx.secrets.decrypt(user.totp_secret_encrypted))

    async def totp(self, user: User, code: str) -> Failure | None:
        """Accept ``code`` once: None when it is right and of a step newer than the last one."""
        step = matching_step(self.generator(user), code, self.ctx.clock.now())
        if step is None:
            return Failure.BAD_TOTP
        if not await self.users.claim_totp_step(user.id, step):
            return Failure.TOTP_REUSED
        return None

    async def reauthenticate(
        self, user: User, password: str, code: str | None, via: str, meta: RequestMeta
    ) -> None:
        """Check the signed-in user's password (and TOTP code) before a sensitive change.

        A stolen access token must not be a password oracle: wrong guesses count as
        failed logins do, and over the limit the answer is 429 (audited) whatever is sent.
        """
        now = self.ctx.clock.now()
        refusal = self.refusal(user, meta, now, keep_changes=True)
        if refusal is not None:
            self.audit.record(
                "user.password_check_throttled",
                actor_id=user.id,
                ts=now,
                target_type="user",
                target_id=user.id,
                ip_address=meta.ip_address,
                user_agent=meta.user_agent,
                details={"via": via, "code": refusal.code, "retry_after": refusal.retry_after},
            )
            raise refusal
        failure = None
        if not await self.ctx.hasher.verify(password, user.password_hash):
            failure = Failure.BAD_PASSWORD
        elif code is not None:
            failure = await self.totp(user, code)
        if failure is not None:
            await self.record_failure(
                user.id, user.email, meta, failure, action="user.password_check_failed", via=via
            )
            raise BadRequest(failure.message, code=failure.code, keep_changes=True)
        self.succeeded(user)

    def succeeded(self, user: User) -> None:
        """A right password (and code): the account's count starts again; the address's not."""
        user.failed_logins = 0
        user.locked_until = None

    async def record_failure(
        self,
        user_id: int | None,
        email: str,
        meta: RequestMeta,
        failure: Failure,
        *,
        action: str = "user.login_failed",
        via: str | None = None,
    ) -> None:
        """Count a failure; the caller raises with ``keep_changes`` so the count is committed."""
        now = self.ctx.clock.now()
        self.ctx.address_throttle.record_failure(meta.ip_address, now)
        if user_id is not None:
            user = await self.session.get(
                User, user_id, with_for_update=True, populate_existing=True
            )
            if user is not None:
                user.failed_logins += 1
                over = user.failed_logins - self.ctx.settings.max_login_attempts
                if over >= 0:
                    delay = timedelta(
                        seconds=self.ctx.settings.login_lockout_seconds * 2 ** min(over, 12)
                    )
                    user.locked_until = now + min(delay, MAX_LOCKOUT)
        details = {"reason": failure.value, "email": email.lower()[:320]}
        if via is not None:
            details["via"] = via
        self.audit.record(
            action,
            actor_id=user_id,
            ts=now,
            target_type="user",
            target_id=user_id,
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
            details=details,
        )
