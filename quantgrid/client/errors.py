"""Typed errors for the API's JSON errors: ``{"error": {"code", "message", "fields"?, "problems"?}}``.

Each one also subclasses the matching class of :mod:`quantgrid.errors` (a module that imports
nothing), so ``except NotFound`` catches a remote 404 as it does a local one and the ``quantgrid``
command reports them alike: one line and that class's exit code.
"""

from __future__ import annotations

from typing import Any

import quantgrid.errors as errors


class ApiError(errors.QuantGridError):
    """The server refused the request."""

    def __init__(self, message: str | None = None, *, status: int | None = None,
                 code: str | None = None, fields: dict[str, str] | None = None,
                 problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.fields = fields or {}
        self.problems = problems or []

    def __str__(self) -> str:
        # The message names only the first bad field; a terminal line should name them all.
        parts = [f"{name}: {why}" for name, why in self.fields.items()] or [self.message]
        parts += [f"line {p['line']}, column {p['column']}: {p['message']}" for p in self.problems]
        return "; ".join(parts)


class AuthError(ApiError):
    """The server does not accept this token (unknown or revoked)."""

    exit_code = 77  # EX_NOPERM


class NotConfigured(AuthError):
    """No server and token are stored: run `quantgrid remote login URL`."""


class InvalidRequest(ApiError, errors.InvalidInput):
    """The request is not valid (see ``fields`` and ``problems``)."""


class NotFoundError(ApiError, errors.NotFound):
    """No such job (or not yours)."""


class QuotaError(ApiError, errors.QuotaExceeded):
    """A quota would be exceeded."""


class Unavailable(ApiError, errors.Unavailable):
    """The server is unavailable; try again shortly."""


class WaitTimeout(errors.QuantGridError, TimeoutError):
    """The job did not finish in time."""

    exit_code = 124  # as timeout(1)


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest, 401: AuthError, 404: NotFoundError, 422: InvalidRequest,
    429: QuotaError, 502: Unavailable, 503: Unavailable, 504: Unavailable,
}


def error_for(status: int, body: Any, reason: str = "") -> ApiError:
    """The typed error for a response that is not 2xx (``body`` its decoded JSON, or None)."""
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict):  # not the API's JSON: a proxy's error page, say
        detail = {"message": f"HTTP {status} {reason}".strip()}
    cls = _BY_STATUS.get(status, ApiError)
    return cls(detail.get("message"), status=status, code=detail.get("code"),
               fields=detail.get("fields"), problems=detail.get("problems"))
