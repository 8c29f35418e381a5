"""One JSON error handler for the API, one HTML error page for the pages.

Every ``QuantGridError`` answers its ``http_status``; the JSON body is
``{"error": {"code": "<snake_case class name>", "message": ...}}`` (plus ``fields`` for form
errors). ``Unavailable`` errors (the database restarting, ...) add ``Retry-After``.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from quantgrid.errors import QuantGridError, Unavailable

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


def error_code(name: str) -> str:
    """``JobNotFound`` → ``job_not_found``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz", "/readyz")


def error_response(status: int, code: str, message: str, fields: dict | None = None, headers=None,
                   problems: list | None = None):
    if wants_json():
        body = {"code": code, "message": message}
        if fields:
            body["fields"] = fields
        if problems:  # a strategy source's mistakes, each with its line and column
            body["problems"] = problems
        response = jsonify({"error": body})
    else:
        page = render_template("error.html", status=status, code=code, message=message)
        response = make_response(page, status)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def handle_quantgrid_error(err: QuantGridError):
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if isinstance(err, Unavailable) else None
    if err.http_status >= 500:
        logger.warning("%s on %s %s: %s", type(err).__name__, request.method, request.path, err)
    return error_response(
        err.http_status,
        error_code(type(err).__name__),
        err.message,
        getattr(err, "fields", None),
        headers,
        getattr(err, "problems", None),
    )


def handle_csrf_error(err: CSRFError):
    return error_response(400, "csrf_failed", f"{err.description} Reload the page and try again.")


def handle_http_error(err: HTTPException):
    code = error_code((err.name or "error").replace(" ", ""))
    # Keep the exception's own headers (Allow on a 405, Retry-After, WWW-Authenticate).
    headers = {k: v for k, v in err.get_headers() if k.lower() not in ("content-type", "content-length")}
    return error_response(err.code or 500, code, err.description or err.name, headers=headers)


def handle_unexpected(err: Exception):
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "Something went wrong on our side.")


def init_app(app: Flask) -> None:
    app.register_error_handler(QuantGridError, handle_quantgrid_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
