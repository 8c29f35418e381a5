"""No password, API token or SECRET_KEY in any log record of a whole session: sign in, create a
token on the account page, use it, revoke it. Every logger is captured at DEBUG."""

from __future__ import annotations

import logging

import pytest

from quantgrid.db import users
from tests.integration.security.conftest import bearer, browser, page_csrf
from tests.unit.app.conftest import BACKTEST, PASSWORD

pytestmark = pytest.mark.integration


def _capture_every_logger(caplog, monkeypatch) -> None:
    """Root at DEBUG, and every logger an earlier test configured (alembic's fileConfig sets
    sqlalchemy.engine to WARNING, for one) put back to DEBUG and enabled for this test."""
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            if logger.level != logging.NOTSET:
                caplog.set_level(logging.DEBUG, logger=name)
            if logger.disabled:
                monkeypatch.setattr(logger, "disabled", False)


def test_secrets_never_reach_the_logs(app, db, settings, alice, caplog, monkeypatch):
    _capture_every_logger(caplog, monkeypatch)  # Flask, Werkzeug, SQLAlchemy, ours
    page = browser(app, "alice")
    other = app.test_client()  # a failed sign-in, with the password nearly right
    assert other.post("/login", data={"username": "alice", "password": PASSWORD + "!",
                                      "csrf_token": page_csrf(other, "/login")}).status_code == 401
    r = page.post("/account", data={"name": "laptop", "csrf_token": page_csrf(page, "/account")})
    with db.read() as s:
        (row,) = [t for t in users.list_tokens(s, alice[0]) if t.name == "laptop"]
    html = r.get_data(as_text=True)
    token = next(w for w in html.replace("<", " ").replace(">", " ").split()
                 if w.startswith(row.prefix))
    api = bearer(app, token)
    assert api.post("/api/v1/backtests", json=BACKTEST).status_code == 201
    assert api.get("/api/v1/jobs").status_code == 200
    bearer(app, token + "x").get("/api/v1/me")  # a failed attempt logs nothing of it either
    bad = bearer(app, token).get("/api/v1/backtests", query_string={"status": token})
    assert bad.status_code == 400
    page.post(f"/account/tokens/{row.id}/revoke", data={"csrf_token": page_csrf(page, "/account")})
    assert api.get("/api/v1/me").status_code == 401
    text = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records, "nothing was logged: the capture is broken"
    secrets = {"password": PASSWORD, "token": token, "other token": alice[1],
               "SECRET_KEY": app.config["SECRET_KEY"], "token secret part": token[len(row.prefix):]}
    for what, value in secrets.items():
        assert value not in text, f"the {what} appears in the logs"
