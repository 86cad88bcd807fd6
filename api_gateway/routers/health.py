"""Liveness, readiness and metrics: ``/health``, ``/ready``, ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api_gateway.deps import CtxDep
from shared import metrics
from shared.readiness import Check, bus_checks, check_all, database_check, tickstore_checks

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process answers (liveness); says nothing of its dependencies."""
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={503: {"description": "A dependency did not answer in time: `failed` names it."}},
)
async def ready(ctx: CtxDep) -> JSONResponse:
    """Every dependency the API uses answers within ALGOTRADE_READY_TIMEOUT_SECONDS each:
    the database, the event bus (Redis) and the tick store (InfluxDB); 503 names the ones
    that did not."""
    checks: dict[str, Check] = {"database": database_check(ctx.engine)}
    if ctx.bus is not None:
        checks |= bus_checks(ctx.bus)
    checks |= tickstore_checks(ctx.tickstore())
    found = await check_all(checks, ctx.settings.ready_timeout_seconds)
    return JSONResponse(found.body(), status_code=200 if found.ready else 503)


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus exposition (every process of the API in multiprocess mode)."""
    ws = getattr(request.app.state, "ws", None)  # the one-process app serves /ws as well
    if ws is not None:
        metrics.WS_CONNECTIONS.set(ws.hub.connections())
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
