"""/users/me: the signed-in user's own profile, password, sessions and dashboard preferences."""

from __future__ import annotations

from fastapi import APIRouter, status

from api_gateway.deps import CtxDep, CurrentUser, MetaDep, PrincipalDep, UowDep
from api_gateway.repositories.preferences import PreferencesRepository
from api_gateway.repositories.users import TokenRepository
from api_gateway.schemas.auth import PasswordChangeIn
from api_gateway.schemas.preferences import (
    DEFAULT_WATCHLIST,
    PreferencesPublic,
    PreferencesUpdate,
)
from api_gateway.schemas.users import SessionPublic, UserPublic, UserUpdate
from api_gateway.services.auth import AuthService

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserPublic)
async def me(user: CurrentUser) -> object:
    return user


@router.patch("/me", response_model=UserPublic)
async def update_me(body: UserUpdate, user: CurrentUser) -> object:
    user.full_name = body.full_name
    return user


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChangeIn, user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> None:
    await AuthService(ctx, uow.session, uow.events).change_password(
        user, body.current_password, body.new_password, meta
    )


@router.get("/me/sessions", response_model=list[SessionPublic])
async def sessions(principal: PrincipalDep, ctx: CtxDep, uow: UowDep) -> object:
    """The signed-in user's login sessions that are still alive (this one marked current)."""
    families = await TokenRepository(uow.session).active_families(
        principal.user.id, ctx.clock.now()
    )
    return [
        SessionPublic.model_validate(f).model_copy(update={"current": f.id == principal.session_id})
        for f in families
    ]


@router.post("/me/sessions/end-all", status_code=status.HTTP_204_NO_CONTENT)
async def end_all_sessions(user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep) -> None:
    """Sign out everywhere: every session of the user ends, this one included."""
    await AuthService(ctx, uow.session, uow.events).end_all_sessions(
        user, "sign_out_everywhere", actor_id=user.id, meta=meta
    )


@router.get("/me/preferences", response_model=PreferencesPublic)
async def preferences(user: CurrentUser, uow: UowDep) -> object:
    """The dashboard's preferences of the signed-in user (the defaults until first saved)."""
    row = await PreferencesRepository(uow.session, user.id).get()
    if row is None:
        return PreferencesPublic(watchlist=list(DEFAULT_WATCHLIST), symbol=None, theme="system")
    return row


@router.put("/me/preferences", response_model=PreferencesPublic)
async def save_preferences(body: PreferencesUpdate, user: CurrentUser, uow: UowDep) -> object:
    """Replace the signed-in user's preferences (fields left out take their defaults)."""
    return await PreferencesRepository(uow.session, user.id).save(
        body.watchlist, body.symbol, body.theme, body.layout.model_dump()
    )
