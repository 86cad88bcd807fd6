"""/users/me: the signed-in user's own profile and password."""

from __future__ import annotations

from fastapi import APIRouter, status

from api_gateway.deps import CtxDep, CurrentUser, MetaDep, UowDep
from api_gateway.schemas.auth import PasswordChangeIn
from api_gateway.schemas.users import UserPublic, UserUpdate
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
