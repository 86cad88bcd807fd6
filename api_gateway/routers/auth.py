"""/auth: register, login, refresh, logout, two-factor set-up."""

from __future__ import annotations

from fastapi import APIRouter, status

from api_gateway.deps import CtxDep, CurrentUser, MetaDep, PrincipalDep, UowDep
from api_gateway.schemas.auth import (
    LoginIn,
    RecoveryCodesOut,
    RecoveryCodesRegenerate,
    RecoveryCodesStatus,
    RefreshIn,
    RegisterIn,
    TokenOut,
    TotpCodeIn,
    TotpDisableIn,
    TotpSetupOut,
)
from api_gateway.schemas.users import UserPublic
from api_gateway.services.auth import AuthService

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
async def register(body: RegisterIn, ctx: CtxDep, uow: UowDep, meta: MetaDep) -> object:
    return await AuthService(ctx, uow.session, uow.events).register(
        body.email, body.password, body.full_name, meta
    )


@router.post("/login", response_model=TokenOut)
async def login(body: LoginIn, ctx: CtxDep, uow: UowDep, meta: MetaDep) -> object:
    return await AuthService(ctx, uow.session, uow.events).login(
        body.email, body.password, body.totp_code, meta, body.recovery_code
    )


@router.post("/refresh", response_model=TokenOut)
async def refresh(body: RefreshIn, ctx: CtxDep, uow: UowDep, meta: MetaDep) -> object:
    return await AuthService(ctx, uow.session, uow.events).refresh(body.refresh_token, meta)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: PrincipalDep, ctx: CtxDep, uow: UowDep, meta: MetaDep) -> None:
    await AuthService(ctx, uow.session, uow.events).logout(
        principal.user, principal.session_id, meta
    )


@router.post("/2fa/setup", response_model=TotpSetupOut)
async def totp_setup(user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    secret, uri = AuthService(ctx, uow.session, uow.events).totp_setup(user)
    return TotpSetupOut(secret=secret, otpauth_uri=uri)


@router.post("/2fa/enable", response_model=RecoveryCodesOut)
async def totp_enable(
    body: TotpCodeIn, user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> object:
    """Turn two-factor on with a code of the new seed. The answer holds the recovery codes,
    each usable once in place of a TOTP code: shown this once, only their digests are kept."""
    codes = await AuthService(ctx, uow.session, uow.events).totp_enable(user, body.code, meta)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/2fa/disable", status_code=status.HTTP_204_NO_CONTENT)
async def totp_disable(
    body: TotpDisableIn, user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> None:
    """Turn two-factor off: the password and a TOTP code, or a recovery code in its place."""
    await AuthService(ctx, uow.session, uow.events).totp_disable(
        user, body.password, body.code, meta, body.recovery_code
    )


@router.get("/2fa/recovery-codes", response_model=RecoveryCodesStatus)
async def recovery_codes_status(user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    """How many recovery codes are left unused (the codes themselves are never shown again)."""
    remaining, generated_at = await AuthService(ctx, uow.session, uow.events).recovery_codes_status(
        user
    )
    return RecoveryCodesStatus(remaining=remaining, generated_at=generated_at)


@router.post("/2fa/recovery-codes", response_model=RecoveryCodesOut)
async def regenerate_recovery_codes(
    body: RecoveryCodesRegenerate, user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> object:
    """A new set of recovery codes, shown this once; every earlier code stops working."""
    codes = await AuthService(ctx, uow.session, uow.events).regenerate_recovery_codes(
        user, body.password, body.code, meta
    )
    return RecoveryCodesOut(recovery_codes=codes)
