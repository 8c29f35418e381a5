"""The compare page: metrics side by side, equity curves on one chart."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from app import metric_formats
from app.extensions import backend, rw
from app.ids import id_arg
from quantgrid.db import backtests as bt
from quantgrid.db import results
from quantgrid.errors import InvalidInput

bp = Blueprint("compare", __name__)
MAX_COMPARED = 8


@bp.get("/compare")
@login_required
def index():
    raw = request.args.getlist("id")
    ids = list(dict.fromkeys(id_arg(x, "id") for x in raw if x))
    if len(ids) > MAX_COMPARED:
        raise InvalidInput(f"compare at most {MAX_COMPARED} backtests at once")
    viewer = current_user._get_current_object()

    def read(s):
        jobs = [bt.get_backtest(s, i, viewer) for i in ids]
        reports = [results.report_for_backtest(s, i, viewer) for i in ids]
        choices = bt.list_backtests(s, viewer, status="succeeded", limit=50)
        return jobs, reports, choices

    jobs, reports, choices = backend.db.run_read(read, rw=rw())
    rows = metric_formats.side_by_side([r.metrics for r in reports],
                                       backend.settings.account_currency)
    return render_template("compare/index.html", jobs=jobs, reports=reports, rows=rows,
                           choices=choices, ids=ids)
