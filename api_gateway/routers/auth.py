"""/auth: register, login, refresh, logout, two-factor set-up."""

from __future__ import annotations

from fastapi import APIRouter, status

from api_gateway.deps import CtxDep, CurrentUser, MetaDep, PrincipalDep, UowDep
from api_gateway.schemas.auth import (
    LoginIn,
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
        body.email, body.password, body.totp_code, meta
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


@router.post("/2fa/enable", status_code=status.HTTP_204_NO_CONTENT)
async def totp_enable(
    body: TotpCodeIn, user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> None:
    await AuthService(ctx, uow.session, uow.events).totp_enable(user, body.code, meta)


@router.post("/2fa/disable", status_code=status.HTTP_204_NO_CONTENT)
async def totp_disable(
    body: TotpDisableIn, user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> None:
    await AuthService(ctx, uow.session, uow.events).totp_disable(
        user, body.password, body.code, meta
    )
