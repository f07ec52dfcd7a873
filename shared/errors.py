"""The API.md error vocabulary: one exception type, rendered once by the HTTP middleware."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error a caller sees as `{"error": {"code", "message", "details"}}` with `status`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers  # sent with the error (a 429's Retry-After, a 405's Allow)

    def body(self) -> dict[str, Any]:
        """API.md's error body."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def validation_error(field: str, message: str) -> ApiError:
    """400 validation_error naming the offending field (a JSON path such as `$.title`)."""
    return ApiError(400, "validation_error", message, {"field": field})


def forbidden(message: str = "not allowed") -> ApiError:
    """403 forbidden: the caller may not do this."""
    return ApiError(403, "forbidden", message)


class DomainError(Exception):
    """A rule a request broke. Each service's api.py maps its subclasses to HTTP statuses."""

    code = "domain_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
