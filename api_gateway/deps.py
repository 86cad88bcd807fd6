"""What routes need, named once as annotated types: the route signature reads as its contract."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from api_gateway.context import GatewayContext
from api_gateway.services.auth import RequestMeta
from shared.auth import Principal, authenticate
from shared.contracts import CHANNEL_CONTROL, ControlEvent, Message
from shared.db import ReadOnlyViolation
from shared.errors import DomainError, Forbidden, TooManyRequests, Unauthorized
from shared.models import Role, User
from shared.outbox import Outbox

log = logging.getLogger(__name__)
bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")


def _ctx(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.ctx
    return ctx


# Dependencies are coroutines even when they do not wait: FastAPI runs a plain function
# in the thread pool, a thread hand-off per request. The ones every request solves take
# the context from the request rather than through ``CtxDep``: each dependency FastAPI
# solves costs a request CPU time, even one it has solved already.
async def get_ctx(request: Request) -> GatewayContext:
    return _ctx(request)


CtxDep = Annotated[GatewayContext, Depends(get_ctx)]

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def rate_limit(request: Request) -> None:
    """The signed-in user's request budget, reads and writes apart: 429 with Retry-After
    when spent. Requests without a valid access token pass (they are refused or throttled
    by their own routes), so one user's flood never costs another user anything."""
    ctx = _ctx(request)
    limiter = ctx.rate_limiter
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if limiter is None or scheme.lower() != "bearer" or not token:
        return
    try:
        user_id = ctx.jwt.decode_access(token.strip()).user_id
    except DomainError:
        return
    s = ctx.settings
    if request.method in READ_METHODS:
        kind, rate, burst = "reads", s.rate_limit_reads_per_second, s.rate_limit_read_burst
    else:
        kind, rate, burst = "writes", s.rate_limit_writes_per_second, s.rate_limit_write_burst
    wait = await limiter.acquire(f"{user_id}:{kind}", rate, burst)
    if wait > 0:
        raise TooManyRequests(
            f"too many {kind}: at most {rate:g} per second (bursts of {burst}); "
            f"retry in {wait:.1f} s",
            retry_after=math.ceil(wait),
            code="rate_limited",
        )


MAX_ID = 2**63 - 1  # ids are signed 64-bit integers: a larger one names nothing
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="a positive 64-bit id")]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description="a positive 64-bit id")]


@dataclass
class UnitOfWork:
    """The request's transaction and the events of its changes.

    ``commit`` is the one way the request's writes end: the events are staged in the
    transaction (the transactional outbox), the transaction commits, and the relay
    publishes them. A route that must hand work on after its writes (an order to the
    processor) commits early through it; what follows only reads.
    """

    session: AsyncSession
    ctx: GatewayContext
    events: list[ControlEvent] = field(default_factory=list)
    messages: list[tuple[str, Message]] = field(default_factory=list)

    async def commit(self) -> None:
        outbox = Outbox([*self.messages, *((CHANNEL_CONTROL, e) for e in self.events)])
        self.messages, self.events = [], []
        await outbox.stage(self.session, self.ctx.clock.now())
        await self.session.commit()
        await self.ctx.relay.send(outbox)


async def get_uow(request: Request) -> AsyncIterator[UnitOfWork]:
    """The request's unit of work. Reads (GET, HEAD) get a read-only session without a
    transaction of their own (no BEGIN and COMMIT round trips); the rest one transaction."""
    ctx = _ctx(request)
    if request.method in READ_METHODS:
        assert ctx.read_sessions is not None
        async with ctx.read_sessions() as session:
            uow = UnitOfWork(session, ctx)
            yield uow
            if uow.events or uow.messages:
                raise ReadOnlyViolation("a read request may not publish events")
        return
    async with ctx.sessions() as session:
        uow = UnitOfWork(session, ctx)
        try:
            yield uow
            await uow.commit()
        except DomainError as exc:
            if exc.keep_changes:
                await uow.commit()
            else:
                await session.rollback()
                uow.events.clear()
                uow.messages.clear()
            raise
        except BaseException:
            await session.rollback()
            raise


# scope="function": commit before the response is sent, so a failed commit is never a 2xx.
UowDep = Annotated[UnitOfWork, Depends(get_uow, scope="function")]


async def get_meta(request: Request) -> RequestMeta:
    host = request.client.host if request.client else "unknown"
    return RequestMeta(ip_address=host, user_agent=request.headers.get("user-agent"))


MetaDep = Annotated[RequestMeta, Depends(get_meta)]


async def get_principal(
    request: Request,
    uow: UowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized(
            "authentication required",
            code="not_authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    ctx = _ctx(request)
    return await authenticate(uow.session, ctx.jwt, credentials.credentials, ctx.clock.now())


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_current_user(principal: PrincipalDep) -> User:
    return principal.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin(user: CurrentUser) -> User:
    # The role is read from the database row loaded for this request, never from the token.
    if user.role != Role.ADMIN:
        raise Forbidden("admin role required", code="admin_required")
    return user


AdminUser = Annotated[User, Depends(get_admin)]


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int


async def get_paging(
    request: Request,
    limit: Annotated[int | None, Query(ge=1, le=200, description="page size (max 200)")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Paging:
    ctx = _ctx(request)
    size = limit or ctx.settings.default_page_size
    return Paging(min(size, ctx.settings.max_page_size), offset)


PagingDep = Annotated[Paging, Depends(get_paging)]
