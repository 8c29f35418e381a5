"""Accounts: sign in and out, the account page with API tokens, and who is asking."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from app.extensions import WebUser, backend, csrf, rw
from quantgrid.db import users
from quantgrid.errors import QuantGridError


class NotAuthenticated(QuantGridError):
    """Sign in, or send an API token as 'Authorization: Bearer <token>'."""

    http_status = 401


class Forbidden(QuantGridError):
    """You are not allowed to do that."""

    http_status = 403


def api_viewer() -> WebUser:
    """The user behind this API request: a bearer token, else the signed-in browser session.

    A browser session must also carry the CSRF token on unsafe methods (the pages' scripts send
    it as X-CSRFToken); a bearer token cannot be sent by another site, so it needs none.
    """
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
        with backend.db.write() as s:
            row = users.user_for_token(s, token.strip())
            if row is None:
                raise NotAuthenticated("that API token is unknown or revoked")
            # Read-your-writes without a cookie: this user's last write position, from any
            # API instance; this request's writes record theirs on the user row.
            rw().remember(row.last_write_lsn)
            rw().user_id = row.id
            return WebUser.of(row)
    if current_user.is_authenticated:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        return current_user._get_current_object()
    raise NotAuthenticated()
