"""Sign in, sign out, and the account page (API tokens)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.auth.forms import LoginForm, TokenForm
from app.extensions import WebUser, backend, rw
from quantgrid.db import users

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link bounce through us.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("jobs.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("jobs.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        # The master, as for tokens: an account just created or a password just changed must
        # work (or stop working) at once, whatever the replica's lag.
        with backend.db.write() as s:
            row = users.authenticate(s, form.username.data, form.password.data)
            user = WebUser.of(row) if row else None
        if user is None:
            error = "Wrong username or password."
        else:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else (400 if form.errors else 200)
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("Signed out.")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        with backend.db.write(rw()) as s:
            new_token, _row = users.create_token(s, current_user.id, form.name.data)
    tokens = backend.db.run_read(users.list_tokens, current_user.id, rw=rw())
    status = 400 if form.errors else 200
    return render_template("auth/account.html", form=form, tokens=tokens,
                           new_token=new_token), status


@bp.post("/account/tokens/<id:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    with backend.db.write(rw()) as s:
        users.revoke_token(s, current_user.id, token_id)
    flash("Token revoked.")
    return redirect(url_for("auth.account"))
