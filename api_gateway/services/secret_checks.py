"""Checks of what a user knows (password, TOTP code), throttled per account and per address.

Login, password change and two-factor disable all check here, so a wrong guess
counts the same wherever it is made: ``MAX_LOGIN_ATTEMPTS`` per account (a
lockout stored on the row, doubling up to an hour) and
``MAX_LOGIN_ATTEMPTS_PER_ADDRESS`` per address in a sliding window. A success
clears the account's count, never the address's: an attacker's own account
must not reset the count of the guesses made at others. A TOTP code is
accepted once: its time step must be newer than the last one accepted; a
recovery code is accepted once, full stop.

Every check is counted as a failure *before* it is made (``attempt``), and the
count is taken back when it passes: a password hash takes tens of
milliseconds, and guesses sent in parallel must not all be judged against the
count from before any of them. The account's count is one conditional UPDATE
whose row lock holds until the request ends, so concurrent checks of one
account queue behind each other and each sees the one before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from api_gateway.context import GatewayContext
from api_gateway.repositories.audit import AuditRepository
from api_gateway.repositories.recovery_codes import RecoveryCodeRepository
from api_gateway.repositories.users import UserRepository
from api_gateway.services import recovery_codes
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
    BAD_RECOVERY_CODE = "bad_recovery_code"

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
    Failure.BAD_RECOVERY_CODE: (
        "invalid_recovery_code",
        "incorrect recovery code, or one that has been used already",
    ),
}


@dataclass
class Attempt:
    """One check, counted as failed until it ``passed``."""

    address: str
    at: datetime
    user_id: int | None
    email: str
    failed: bool = False


class SecretChecks:
    def __init__(self, ctx: GatewayContext, session: AsyncSession) -> None:
        self.ctx = ctx
        self.session = session
        self.users = UserRepository(session)
        self.audit = AuditRepository(session)

    @asynccontextmanager
    async def attempt(
        self, user: User | None, email: str, meta: RequestMeta, *, keep_changes: bool = False
    ) -> AsyncIterator[Attempt]:
        """Count a check of what ``user`` knows as failed, then make it inside the block.

        429 first when the address or the account must wait. The block ends with
        ``passed`` (the count taken back) or ``failed`` (the count kept); if it
        ends any other way (an error, a missing code) the address's count is
        taken back and the account's goes with the rolled-back transaction.
        """
        now = self.ctx.clock.now()
        throttle = self.ctx.address_throttle
        wait = throttle.reserve(meta.ip_address, now)
        if wait:
            raise TooManyRequests(
                "too many failed password or code checks from this address; try again later",
                retry_after=wait,
                code="address_throttled",
                keep_changes=keep_changes,
            )
        attempt = Attempt(meta.ip_address, now, user.id if user else None, email)
        try:
            if user is not None:
                await self._count_for_account(user.id, now, keep_changes)
            yield attempt
        finally:
            if not attempt.failed:
                throttle.release(attempt.address, attempt.at)

    async def _count_for_account(self, user_id: int, now: datetime, keep_changes: bool) -> None:
        count, locked_until = await self.users.count_attempt(user_id, now)
        if locked_until is not None and locked_until > now:
            raise TooManyRequests(
                "too many failed password or code checks for this account; try again later",
                retry_after=int((locked_until - now).total_seconds()) + 1,
                code="account_locked",
                keep_changes=keep_changes,
            )
        over = count - self.ctx.settings.max_login_attempts
        if over >= 0:
            # Locked now, as if this check fails; passing lifts it. Checks that come
            # meanwhile are refused rather than judged on a count this one may raise.
            delay = timedelta(seconds=self.ctx.settings.login_lockout_seconds * 2 ** min(over, 12))
            await self.users.lock(user_id, now + min(delay, MAX_LOCKOUT))

    async def passed(self, attempt: Attempt) -> None:
        """A right password (and code): the account's count starts again; the address's
        keeps every failure but this attempt's own reservation."""
        if attempt.user_id is not None:
            await self.users.clear_failures(attempt.user_id)

    def failed(
        self,
        attempt: Attempt,
        meta: RequestMeta,
        failure: Failure,
        *,
        action: str = "user.login_failed",
        via: str | None = None,
    ) -> None:
        """Keep the count and audit it; the caller raises with ``keep_changes`` so both are
        committed."""
        attempt.failed = True
        details = {"reason": failure.value, "email": attempt.email.lower()[:320]}
        if via is not None:
            details["via"] = via
        self.audit.record(
            action,
            actor_id=attempt.user_id,
            ts=attempt.at,
            target_type="user",
            target_id=attempt.user_id,
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
            details=details,
        )

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

    async def recovery_code(self, user: User, code: str) -> Failure | None:
        """Spend one of the user's unused recovery codes: None when ``code`` was one."""
        normalised = recovery_codes.normalise(code)
        if normalised is None:
            return Failure.BAD_RECOVERY_CODE
        spent = await RecoveryCodeRepository(self.session, user.id).spend(
            recovery_codes.digest(user.id, normalised), self.ctx.clock.now()
        )
        return None if spent else Failure.BAD_RECOVERY_CODE

    async def second_factor(
        self, user: User, code: str | None, recovery_code: str | None
    ) -> Failure | None:
        """Check a TOTP code or, in its place, a recovery code (whichever is given)."""
        if recovery_code is not None:
            return await self.recovery_code(user, recovery_code)
        if code is not None:
            return await self.totp(user, code)
        return None

    async def reauthenticate(
        self,
        user: User,
        password: str,
        code: str | None,
        via: str,
        meta: RequestMeta,
        *,
        recovery_code: str | None = None,
    ) -> None:
        """Check the signed-in user's password (and TOTP or recovery code) before a
        sensitive change.

        A stolen access token must not be a password oracle: wrong guesses count as
        failed logins do, and over the limit the answer is 429 (audited) whatever is sent.
        """
        try:
            async with self.attempt(user, user.email, meta, keep_changes=True) as attempt:
                failure = None
                if not await self.ctx.hasher.verify(password, user.password_hash):
                    failure = Failure.BAD_PASSWORD
                else:
                    failure = await self.second_factor(user, code, recovery_code)
                if failure is not None:
                    self.failed(
                        attempt, meta, failure, action="user.password_check_failed", via=via
                    )
                    raise BadRequest(failure.message, code=failure.code, keep_changes=True)
                await self.passed(attempt)
        except TooManyRequests as refusal:
            self.audit.record(
                "user.password_check_throttled",
                actor_id=user.id,
                ts=self.ctx.clock.now(),
                target_type="user",
                target_id=user.id,
                ip_address=meta.ip_address,
                user_agent=meta.user_agent,
                details={"via": via, "code": refusal.code, "retry_after": refusal.retry_after},
            )
            raise
