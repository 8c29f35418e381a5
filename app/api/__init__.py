"""The JSON API under /api/v1 (bearer tokens, or the browser session plus its CSRF token)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import strategies, views  # noqa: E402,F401  (they register the routes on bp)
