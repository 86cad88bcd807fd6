"""/admin: user oversight and the audit log. Admin role required on every route."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api_gateway.deps import AdminUser, CtxDep, IdPath, IdQuery, MetaDep, PagingDep, UowDep
from api_gateway.schemas.common import IsoDatetime, PageOut
from api_gateway.schemas.users import AuditEntryPublic, RoleUpdate, UserAdminView
from api_gateway.services.admin import AdminService
from shared.models import Role

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/users", response_model=PageOut[UserAdminView])
async def list_users(
    admin: AdminUser,
    ctx: CtxDep,
    uow: UowDep,
    paging: PagingDep,
    q: Annotated[str | None, Query(max_length=100)] = None,
    role: Role | None = None,
    active: bool | None = None,
) -> object:
    return await AdminService(ctx, uow.session, admin, uow.events).search_users(
        q, role, active, paging.limit, paging.offset
    )


@router.get("/users/{user_id}", response_model=UserAdminView)
async def get_user(user_id: IdPath, admin: AdminUser, ctx: CtxDep, uow: UowDep) -> object:
    return await AdminService(ctx, uow.session, admin, uow.events).get_user(user_id)


@router.post("/users/{user_id}/disable", response_model=UserAdminView)
async def disable_user(
    user_id: IdPath, admin: AdminUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> object:
    return await AdminService(ctx, uow.session, admin, uow.events).set_active(user_id, False, meta)


@router.post("/users/{user_id}/enable", response_model=UserAdminView)
async def enable_user(
    user_id: IdPath, admin: AdminUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> object:
    return await AdminService(ctx, uow.session, admin, uow.events).set_active(user_id, True, meta)


@router.put("/users/{user_id}/role", response_model=UserAdminView)
async def set_role(
    user_id: IdPath, body: RoleUpdate, admin: AdminUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> object:
    return await AdminService(ctx, uow.session, admin, uow.events).set_role(
        user_id, body.role, meta
    )


@router.get("/audit", response_model=PageOut[AuditEntryPublic])
async def audit_log(
    admin: AdminUser,
    ctx: CtxDep,
    uow: UowDep,
    paging: PagingDep,
    actor_id: IdQuery = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target_type: Annotated[str | None, Query(max_length=32)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    since: IsoDatetime | None = None,
    until: IsoDatetime | None = None,
) -> object:
    return await AdminService(ctx, uow.session, admin, uow.events).audit_log(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
        limit=paging.limit,
        offset=paging.offset,
    )
