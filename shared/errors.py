"""Domain errors: each carries a code, a message, an HTTP status and optional field details."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error the platform reports to a client on purpose."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        keep_changes: bool = False,
    ) -> None:
        super().__init__(message)
        # True when the work done before the error must still be committed
        # (a failed-login counter, a revoked token family).
        self.keep_changes = keep_changes
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.details = details or []
        self.headers = headers or {}


class BadRequest(DomainError):
    status_code = 400
    code = "bad_request"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Unprocessable(DomainError):
    status_code = 422
    code = "validation_error"


class TooManyRequests(DomainError):
    status_code = 429
    code = "too_many_requests"

    def __init__(
        self,
        message: str,
        *,
        retry_after: int,
        code: str | None = None,
        keep_changes: bool = False,
    ) -> None:
        super().__init__(
            message,
            code=code,
            headers={"Retry-After": str(max(1, retry_after))},
            keep_changes=keep_changes,
        )
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "service_unavailable"
