"""One JSON error shape for every failure: ``{"code", "message", "details": [...]}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from shared.errors import DomainError

log = logging.getLogger(__name__)


def error_body(
    code: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or []}


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details),
            status_code=exc.status_code,
            headers=exc.headers or None,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": _field(e.get("loc", ())), "message": str(e.get("msg", "invalid"))}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        return JSONResponse(
            error_body("validation_error", f"invalid request: {summary}", details), status_code=422
        )

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        codes = {
            404: "not_found",
            405: "method_not_allowed",
            401: "unauthorized",
            403: "forbidden",
            413: "payload_too_large",
            400: "bad_request",
        }
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return JSONResponse(
            error_body(codes.get(exc.status_code, "error"), message),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _db_down(_: Request, exc: Exception) -> JSONResponse:
        return unavailable(exc)

    @app.exception_handler(DBAPIError)
    async def _db_error(_: Request, exc: DBAPIError) -> JSONResponse:
        return unexpected_error(exc)

    # Starlette answers an ``Exception`` handler and then raises the error again, which
    # makes the server drop the connection; ``UnhandledErrorMiddleware`` (installed by
    # ``create_app`` inside it) answers with ``unexpected_error`` first. This one is left
    # for errors raised outside that middleware.
    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return unexpected_error(exc)


def unavailable(exc: BaseException) -> JSONResponse:
    """503 for a dependency that is down or too slow (the database, a socket, a timeout)."""
    log.warning("dependency unavailable: %s: %s", type(exc).__name__, exc)
    return JSONResponse(
        error_body("service_unavailable", "the database is unavailable, try again shortly"),
        status_code=503,
        headers={"Retry-After": "5"},
    )


def unexpected_error(exc: BaseException) -> JSONResponse:
    """The answer to an error no handler claimed: 503 when a dependency failed, else 500."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return unavailable(exc)
    if isinstance(exc, OperationalError | PoolTimeout | ConnectionError | OSError | TimeoutError):
        return unavailable(exc)
    log.error("unhandled error", exc_info=exc)
    return JSONResponse(error_body("internal_error", "internal error"), status_code=500)
