"""Extensions, created unbound here and attached to an app with ``init_app``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import Flask, current_app, g, request, session
from flask_login import LoginManager, UserMixin
from flask_wtf.csrf import CSRFProtect

# At the top, not on first use: Gunicorn loads the app before it forks its workers
# (gunicorn.conf.py ``preload_app``), so they share the candle stores' pandas and pyarrow, and
# Celery (the job service's publisher).
from quantgrid.candles.factory import open_store
from quantgrid.candles.inventory import Inventory
from quantgrid.config import Settings
from quantgrid.db import users
from quantgrid.db.models import CANDLE_UPLOADERS, Role
from quantgrid.db.quotas import Limits
from quantgrid.db.session import Database, ReadYourWrites
from quantgrid.jobs.strategies import StrategyService
from tasks.publisher import job_service

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Sign in to see that page."
login_manager.session_protection = "basic"


@dataclass(frozen=True)
class WebUser(UserMixin):
    """The signed-in user as views see it (a plain value, not an ORM row)."""

    id: int
    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def may_upload_candles(self) -> bool:
        return self.role in CANDLE_UPLOADERS

    @classmethod
    def of(cls, row) -> WebUser:
        return cls(row.id, row.username, str(row.role))


@login_manager.user_loader
def _load_user(user_id: str) -> WebUser | None:
    try:
        uid = int(user_id)
    except ValueError:
        return None
    db = backend.db
    with db.read(rw()) as s:
        try:
            row = users.get_user(s, uid)
        except LookupError:
            return None
        return WebUser.of(row) if row.is_active else None


class Backend:
    """The app's handles on the rest of QuantGrid: settings, database, candle store, job service.

    Tests may hand in their own through ``QG_DATABASE``, ``QG_CANDLE_STORE`` and
    ``QG_JOB_SERVICE``.
    """

    def init_app(self, app: Flask) -> None:
        settings: Settings = app.config["QG_SETTINGS"]
        db = app.config.get("QG_DATABASE") or Database.from_settings(settings)
        app.extensions["quantgrid"] = {
            "settings": settings,
            "db": db,
            "store": app.config.get("QG_CANDLE_STORE"),
            "inventory": None,
            "jobs": app.config.get("QG_JOB_SERVICE"),
            "strategies": StrategyService(db, settings),
            "limits": Limits.from_settings(settings),
        }

    @staticmethod
    def _get(name: str):
        return current_app.extensions["quantgrid"][name]

    @property
    def settings(self) -> Settings:
        return self._get("settings")

    @property
    def db(self) -> Database:
        return self._get("db")

    @property
    def limits(self) -> Limits:
        return self._get("limits")

    @property
    def store(self):
        """The candle store, opened on first use (InfluxDB may be down at start-up)."""
        ext = current_app.extensions["quantgrid"]
        if ext["store"] is None:
            ext["store"] = open_store(ext["settings"])
        return ext["store"]

    @property
    def inventory(self):
        """The store's series inventory, cached in this process (quantgrid.candles.inventory)."""
        ext = current_app.extensions["quantgrid"]
        if ext["inventory"] is None:
            ext["inventory"] = Inventory(self.store)
        return ext["inventory"]

    @property
    def jobs(self):
        """The job service that creates job rows and enqueues their tasks in one transaction."""
        ext = current_app.extensions["quantgrid"]
        if ext["jobs"] is None:
            ext["jobs"] = job_service(ext["settings"], ext["db"])
        return ext["jobs"]

    @property
    def strategies(self) -> StrategyService:
        """Checking, saving and resolving the strategies users write."""
        return self._get("strategies")


backend = Backend()


CONSISTENCY_HEADER = "X-Consistency-Token"


def rw() -> ReadYourWrites:
    """This request's read-your-writes position: the session cookie's (browsers), the
    ``X-Consistency-Token`` request header's, and the token user's (see ``api_viewer``)."""
    if "qg_rw" not in g:
        g.qg_rw = ReadYourWrites.loads(session.get("rw"))
        g.qg_rw.remember(ReadYourWrites.loads(request.headers.get(CONSISTENCY_HEADER)).lsn)
    return g.qg_rw


def remember_writes(response=None) -> None:
    """Keep the position of this request's writes in the session, for the next page's reads,
    and hand it to API clients in the ``X-Consistency-Token`` header."""
    if "qg_rw" in g and g.qg_rw.lsn:
        if g.qg_rw.user_id is None and session.get("rw") != g.qg_rw.dumps():
            session["rw"] = g.qg_rw.dumps()  # token clients: their user row keeps it
        if response is not None:
            response.headers[CONSISTENCY_HEADER] = g.qg_rw.dumps()


class SecurityHeaders:
    """CSP allowing only this origin, no sniffing, no framing, a strict referrer policy."""

    CSP = (
        # The hash admits the one <style> lightweight-charts 4.2.3 injects for its attribution
        # logo (the browser e2e test fails on any CSP violation, so an upgrade shows up there).
        "default-src 'self'; script-src 'self'; "
        "style-src 'self' 'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='{nonce}; "
        "img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'"
    )

    def init_app(self, app: Flask) -> None:
        app.after_request(self._headers)
        app.jinja_env.globals["style_nonce"] = style_nonce

    def _headers(self, response):
        remember_writes(response)
        nonce = f" 'nonce-{g.style_nonce}'" if "style_nonce" in g else ""
        response.headers.setdefault("Content-Security-Policy", self.CSP.format(nonce=nonce))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if current_app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def style_nonce() -> str:
    """This response's nonce for <style> elements that a page's script makes, admitted by the
    CSP of this response only. CodeMirror's themes are such styles (its ``cspNonce``); scripts
    cannot be injected (script-src 'self'), so only the page's own scripts can read it."""
    if "style_nonce" not in g:
        g.style_nonce = secrets.token_urlsafe(18)
    return g.style_nonce


security_headers = SecurityHeaders()
