"""Health endpoints for the load balancer: /healthz (process up), /readyz (can serve)."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from app.extensions import backend
from quantgrid.db import web
from quantgrid.errors import QuantGridError

logger = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Answer 200 while the process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Answer 200 when the database and the broker answer, else 503 naming what is down."""
    checks = {"database": _check(_database), "broker": _check(_broker)}
    ready = all(v == "ok" for v in checks.values())
    response = jsonify({"status": "ok" if ready else "unavailable", "checks": checks})
    response.status_code = 200 if ready else 503
    if not ready:
        response.headers["Retry-After"] = "5"
    return response


def _check(fn) -> str:
    try:
        fn()
    except (QuantGridError, OSError, Exception) as err:  # any failure means "not ready"
        logger.warning("readiness check %s failed: %s", fn.__name__, err)
        return f"unavailable: {type(err).__name__}"
    return "ok"


def _database() -> None:
    with backend.db.write() as s:
        web.ping(s)


def _broker() -> None:
    backend.jobs.publisher.check()
