"""/alerts, /notification-channels, /price-alerts: a trader's alert history, where alerts
are sent, and the price alerts they set (docs/alerts.md, section REST).

Every id is looked up as the caller's own (the alerts service's repositories are bound to
the user): another user's id is 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from analytics_service.api import (
    AlertFilter,
    AlertsService,
    AlertView,
    ChannelSpec,
    ChannelView,
    PriceAlertSpec,
    push_alerts,
)
from api_gateway.context import GatewayContext
from api_gateway.deps import CtxDep, CurrentUser, IdPath, PagingDep, UowDep
from api_gateway.schemas.alerts import (
    AlertPublic,
    AlertStatsPublic,
    ChannelCreate,
    ChannelList,
    ChannelPublic,
    ChannelTestPublic,
    ChannelUpdate,
    DeliveryPublic,
    MarkedPublic,
    PriceAlertCreate,
    PriceAlertPublic,
    PriceAlertUpdate,
)
from api_gateway.schemas.common import PageOut
from shared.alerts import AlertKind, ChannelKind, Severity
from shared.models import User

router = APIRouter(tags=["alerts"])

AlertId = Annotated[uuid.UUID, Path(description="the alert's id (a UUID)")]


def _service(ctx: GatewayContext, uow: UowDep, user: User) -> AlertsService:
    return AlertsService(uow.session, user.id, settings=ctx.settings, now=ctx.clock.now())


def _alert(view: AlertView) -> AlertPublic:
    row = view.alert
    return AlertPublic(
        id=row.alert_id,
        kind=row.kind,
        severity=row.severity,
        title=row.title,
        body=row.body,
        data=row.data,
        created_at=row.created_at,
        read=row.read_at is not None,
        read_at=row.read_at,
        deliveries=[DeliveryPublic.model_validate(d) for d in view.deliveries],
    )


def _channel(view: ChannelView) -> ChannelPublic:
    row = view.channel
    return ChannelPublic(
        id=row.id,
        kind=row.kind,
        name=row.name,
        enabled=row.enabled,
        severities=list(row.severities),
        kinds=list(row.kinds),
        config=dict(row.config),
        secrets_set=view.secrets_set,
        revealed=view.revealed,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# -- history ---------------------------------------------------------------------------


@router.get("/alerts", response_model=PageOut[AlertPublic])
async def list_alerts(
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
    paging: PagingDep,
    severity: Annotated[Severity | None, Query()] = None,
    kind: Annotated[AlertKind | None, Query()] = None,
    read: Annotated[bool | None, Query(description="true: read only; false: unread only")] = None,
) -> object:
    where = AlertFilter(severity=severity, kind=kind, read=read)
    page = await _service(ctx, uow, user).history(paging.limit, paging.offset, where)
    return PageOut(
        items=[_alert(v) for v in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/alerts/stats", response_model=AlertStatsPublic)
async def alert_stats(user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    stats = await _service(ctx, uow, user).stats()
    return AlertStatsPublic(
        total=stats.total,
        unread=stats.unread,
        by_kind=stats.by_kind,
        by_severity=stats.by_severity,
        unread_by_severity=stats.unread_by_severity,
    )


@router.post("/alerts/read-all", response_model=MarkedPublic)
async def mark_all_read(user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    return MarkedPublic(marked=await _service(ctx, uow, user).mark_all_read())


@router.get("/alerts/{alert_id}", response_model=AlertPublic)
async def get_alert(alert_id: AlertId, user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    return _alert(await _service(ctx, uow, user).get(alert_id))


@router.post("/alerts/{alert_id}/read", response_model=AlertPublic)
async def mark_read(alert_id: AlertId, user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    return _alert(await _service(ctx, uow, user).mark_read(alert_id))


# -- notification channels -------------------------------------------------------------


@router.get("/notification-channels", response_model=ChannelList)
async def list_channels(user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    views = await _service(ctx, uow, user).list_channels()
    return ChannelList(
        items=[_channel(v) for v in views],
        websocket_default=not any(v.channel.kind == ChannelKind.WEBSOCKET for v in views),
    )


@router.post(
    "/notification-channels", response_model=ChannelPublic, status_code=status.HTTP_201_CREATED
)
async def create_channel(
    body: ChannelCreate, user: CurrentUser, ctx: CtxDep, uow: UowDep
) -> object:
    spec = ChannelSpec(
        kind=body.kind,
        name=body.name,
        enabled=body.enabled,
        severities=body.severities,
        kinds=body.kinds,
        config=body.config,
    )
    return _channel(await _service(ctx, uow, user).create_channel(spec))


@router.get("/notification-channels/{channel_id}", response_model=ChannelPublic)
async def get_channel(channel_id: IdPath, user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    return _channel(await _service(ctx, uow, user).get_channel(channel_id))


@router.patch("/notification-channels/{channel_id}", response_model=ChannelPublic)
async def update_channel(
    channel_id: IdPath, body: ChannelUpdate, user: CurrentUser, ctx: CtxDep, uow: UowDep
) -> object:
    spec = ChannelSpec(
        name=body.name,
        enabled=body.enabled,
        severities=body.severities,
        kinds=body.kinds,
        config=body.config,
    )
    return _channel(await _service(ctx, uow, user).update_channel(channel_id, spec))


@router.delete("/notification-channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_channel(channel_id: IdPath, user: CurrentUser, ctx: CtxDep, uow: UowDep) -> None:
    await _service(ctx, uow, user).delete_channel(channel_id)


@router.post("/notification-channels/{channel_id}/test", response_model=ChannelTestPublic)
async def test_channel(channel_id: IdPath, user: CurrentUser, ctx: CtxDep, uow: UowDep) -> object:
    service = _service(ctx, uow, user)
    prepared = await service.prepare_test(channel_id)
    await uow.commit()  # the test alert is in the history before anything is sent
    await push_alerts(ctx.bus, [prepared.recorded])
    result = await service.send_test(prepared)
    return ChannelTestPublic(
        alert_id=result.alert.alert_id,
        channel_id=result.channel.id,
        status=result.status,
        error=result.error,
    )


# -- price alerts ----------------------------------------------------------------------


@router.get("/price-alerts", response_model=PageOut[PriceAlertPublic])
async def list_price_alerts(
    user: CurrentUser,
    ctx: CtxDep,
    uow: UowDep,
    paging: PagingDep,
    active: Annotated[bool | None, Query()] = None,
) -> object:
    page = await _service(ctx, uow, user).list_price_alerts(paging.limit, paging.offset, active)
    return PageOut(items=page.items, total=page.total, limit=page.limit, offset=page.offset)


@router.post("/price-alerts", response_model=PriceAlertPublic, status_code=status.HTTP_201_CREATED)
async def create_price_alert(
    body: PriceAlertCreate, user: CurrentUser, ctx: CtxDep, uow: UowDep
) -> object:
    spec = PriceAlertSpec(**body.model_dump())
    return await _service(ctx, uow, user).create_price_alert(spec)


@router.get("/price-alerts/{price_alert_id}", response_model=PriceAlertPublic)
async def get_price_alert(
    price_alert_id: IdPath, user: CurrentUser, ctx: CtxDep, uow: UowDep
) -> object:
    return await _service(ctx, uow, user).get_price_alert(price_alert_id)


@router.patch("/price-alerts/{price_alert_id}", response_model=PriceAlertPublic)
async def update_price_alert(
    price_alert_id: IdPath, body: PriceAlertUpdate, user: CurrentUser, ctx: CtxDep, uow: UowDep
) -> object:
    spec = PriceAlertSpec(**body.model_dump())
    return await _service(ctx, uow, user).update_price_alert(price_alert_id, spec)


@router.delete("/price-alerts/{price_alert_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_price_alert(
    price_alert_id: IdPath, user: CurrentUser, ctx: CtxDep, uow: UowDep
) -> None:
    await _service(ctx, uow, user).delete_price_alert(price_alert_id)
