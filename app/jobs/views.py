"""The jobs page (its rows refresh from /api/v1/jobs while any job is unfinished)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.extensions import backend, rw
from quantgrid.db import backtests as bt
from quantgrid.db import web

bp = Blueprint("jobs", __name__)
PER_PAGE = 20
MAX_PAGE_NUMBER = 10**6  # past it the offset outgrows the database's integers


@bp.get("/")
def home():
    return redirect(url_for("jobs.index"))


@bp.get("/jobs")
@login_required
def index():
    try:
        page = min(max(int(request.args.get("page", 1)), 1), MAX_PAGE_NUMBER)
    except ValueError:
        page = 1
    viewer = current_user._get_current_object()

    def read(s):
        return (bt.list_jobs(s, viewer, limit=PER_PAGE, offset=(page - 1) * PER_PAGE),
                web.count_jobs(s, viewer))

    jobs, total = backend.db.run_read(read, rw=rw())
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    return render_template("jobs/index.html", jobs=jobs, page=page, pages=pages, total=total,
                           per_page=PER_PAGE)
