"""The kill switch: a trader's own panic button, and the admins' halt, resume and liquidate.

Halts live in the database (they hold while Redis is down), cancel the affected
users' open orders, are audited, and are announced on the control channel once
committed. Liquidation places market orders (origin ``system``) against every
open position; the order processor sends them like any other order.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api_gateway.deps import AdminUser, CtxDep, CurrentUser, MetaDep, UowDep
from api_gateway.schemas.orders import (
    AdminHalt,
    AdminScope,
    AdminTradingStatus,
    HaltPublic,
    KillSwitchOutcome,
    OrderPublic,
    SelfHalt,
    TradingStatus,
)
from api_gateway.services.auth import RequestMeta
from api_gateway.services.orders import dispatch
from order_processor.api import KillSwitchResult, Outbox, TradingControl
from shared.errors import NotFound
from shared.models import User

router = APIRouter(tags=["trading"])
admin_router = APIRouter(prefix="/admin/trading", tags=["admin"])


def _switch(
    ctx: CtxDep, uow: UowDep, actor: User, meta: RequestMeta, outbox: Outbox
) -> TradingControl:
    return TradingControl(
        uow.session,
        actor_id=actor.id,
        now=ctx.clock.now(),
        outbox=outbox,
        ip_address=meta.ip_address,
    )


def _outcome(result: KillSwitchResult) -> KillSwitchOutcome:
    return KillSwitchOutcome(
        halts=[HaltPublic.model_validate(h) for h in result.halts],
        cancelled_order_ids=[o.id for o in result.cancelled],
        orders=[OrderPublic.model_validate(o) for o in result.placed],
    )


async def _own_status(ctx: CtxDep, uow: UowDep, user: User) -> TradingStatus:
    control = TradingControl(uow.session, actor_id=user.id, now=ctx.clock.now())
    halts = await control.halts_of(user.id)
    return TradingStatus(halted=bool(halts), halts=[HaltPublic.model_validate(h) for h in halts])


# -- the trader's panic button ------------------------------------------------


@router.post("/trading/halt", response_model=TradingStatus)
async def halt_me(
    body: SelfHalt, user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> object:
    """Stop my trading now: open orders are cancelled, only orders that reduce a position pass."""
    outbox = Outbox()
    switch = _switch(ctx, uow, user, meta, outbox)
    result = await switch.halt(user.id, body.reason or "halted by the user")
    uow.messages.extend(outbox.messages)
    await dispatch(ctx, uow, result.intents)  # the cancels, to the order processor
    return await _own_status(ctx, uow, user)


@router.post("/trading/resume", response_model=TradingStatus)
async def resume_me(user: CurrentUser, ctx: CtxDep, uow: UowDep, meta: MetaDep) -> object:
    """Lift my own halt (403 if an administrator halted me)."""
    outbox = Outbox()
    await _switch(ctx, uow, user, meta, outbox).resume(user.id, as_admin=False)
    uow.messages.extend(outbox.messages)
    return await _own_status(ctx, uow, user)


@router.get("/trading/status", response_model=TradingStatus)
async def my_status(user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    return await _own_status(ctx, uow, user)


# -- admins -------------------------------------------------------------------


async def _existing_user(uow: UowDep, user_id: int | None) -> None:
    if (
        user_id is not None
        and await uow.session.scalar(select(User.id).where(User.id == user_id)) is None
    ):
        raise NotFound("user not found")


@admin_router.post("/halt", response_model=KillSwitchOutcome)
async def admin_halt(
    body: AdminHalt, admin: AdminUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> object:
    """Halt one user, or everyone when ``user_id`` is omitted."""
    await _existing_user(uow, body.user_id)
    outbox = Outbox()
    result = await _switch(ctx, uow, admin, meta, outbox).halt(body.user_id, body.reason)
    uow.messages.extend(outbox.messages)
    await dispatch(ctx, uow, result.intents)  # the cancels, to the order processor
    return _outcome(result)


@admin_router.post("/resume", response_model=KillSwitchOutcome)
async def admin_resume(
    body: AdminScope, admin: AdminUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> object:
    """Lift the halts of one user (theirs and admins'), or the global halt."""
    await _existing_user(uow, body.user_id)
    outbox = Outbox()
    result = await _switch(ctx, uow, admin, meta, outbox).resume(body.user_id, as_admin=True)
    uow.messages.extend(outbox.messages)
    return _outcome(result)


@admin_router.post("/liquidate", response_model=KillSwitchOutcome)
async def admin_liquidate(
    body: AdminScope, admin: AdminUser, ctx: CtxDep, uow: UowDep, meta: MetaDep
) -> object:
    """Close every open position of one user, or of everyone, with market orders."""
    await _existing_user(uow, body.user_id)
    outbox = Outbox()
    result = await _switch(ctx, uow, admin, meta, outbox).liquidate(body.user_id)
    uow.messages.extend(outbox.messages)
    await dispatch(ctx, uow, result.intents)
    return _outcome(result)


@admin_router.get("/status", response_model=AdminTradingStatus)
async def admin_status(admin: AdminUser, ctx: CtxDep, uow: UowDep) -> object:
    halts = await TradingControl(uow.session, actor_id=admin.id, now=ctx.clock.now()).active_halts()
    global_halt = next((h for h in halts if h.user_id is None), None)
    return AdminTradingStatus(
        global_halt=HaltPublic.model_validate(global_halt) if global_halt else None,
        user_halts=[HaltPublic.model_validate(h) for h in halts if h.user_id is not None],
    )


router.include_router(admin_router)
