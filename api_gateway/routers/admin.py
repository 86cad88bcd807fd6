"""/admin: user oversight and the audit log. Admin role required on every route.

The per-user views (``/admin/users/{id}/broker-accounts``, ``orders``, ``positions``,
``audit``) read a trader's data through the same user-bound repositories the trader's own
routes use, bound to that trader; they change nothing, so they are not audited (what an
admin does to a user - halt, role, liquidation, disable - is).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api_gateway.deps import AdminUser, CtxDep, IdPath, IdQuery, MetaDep, PagingDep, UowDep
from api_gateway.schemas.brokers import BrokerAccountPublic
from api_gateway.schemas.common import IsoDatetime, PageOut
from api_gateway.schemas.orders import OrderPublic, PositionPublic
from api_gateway.schemas.users import AuditEntryPublic, RoleUpdate, UserAdminView
from api_gateway.services.admin import AdminService
from api_gateway.services.brokers import BrokerAccountService
from api_gateway.services.orders import OrdersApi
from order_processor.api import OrderFilters
from shared.contracts import OrderStatus
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


@router.get("/users/{user_id}/broker-accounts", response_model=PageOut[BrokerAccountPublic])
async def user_broker_accounts(
    user_id: IdPath, admin: AdminUser, ctx: CtxDep, uow: UowDep, paging: PagingDep
) -> object:
    """One user's broker accounts (credentials masked, as the owner sees them)."""
    user = await AdminService(ctx, uow.session, admin, uow.events).get_user(user_id)
    return await BrokerAccountService(ctx, uow, user).list(paging.limit, paging.offset)


@router.get("/users/{user_id}/orders", response_model=PageOut[OrderPublic])
async def user_orders(
    user_id: IdPath,
    admin: AdminUser,
    ctx: CtxDep,
    uow: UowDep,
    paging: PagingDep,
    status: OrderStatus | None = None,
    broker_account_id: IdQuery = None,
) -> object:
    """One user's orders, newest first."""
    user = await AdminService(ctx, uow.session, admin, uow.events).get_user(user_id)
    filters = OrderFilters(status=status, symbol=None, broker_account_id=broker_account_id)
    return await OrdersApi(ctx, uow, user).search(filters, paging.limit, paging.offset)


@router.get("/users/{user_id}/positions", response_model=PageOut[PositionPublic])
async def user_positions(
    user_id: IdPath,
    admin: AdminUser,
    ctx: CtxDep,
    uow: UowDep,
    paging: PagingDep,
    open_only: bool = True,
) -> object:
    """One user's positions, marked at the last price."""
    user = await AdminService(ctx, uow.session, admin, uow.events).get_user(user_id)
    return await OrdersApi(ctx, uow, user).positions(paging.limit, paging.offset, None, open_only)


@router.get("/users/{user_id}/audit", response_model=PageOut[AuditEntryPublic])
async def user_audit(
    user_id: IdPath, admin: AdminUser, ctx: CtxDep, uow: UowDep, paging: PagingDep
) -> object:
    """What one user did and what was done to their account, newest first."""
    service = AdminService(ctx, uow.session, admin, uow.events)
    await service.get_user(user_id)
    return await service.audit.about_user(user_id, paging.limit, paging.offset)


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
