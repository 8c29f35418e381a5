"""New backtest form, result page, CSV/JSON downloads, cancel."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from app import metric_formats
from app.backtests.forms import form_context, form_data, values_from_job
from app.backtests.report import montecarlo_view, report_context
from app.backtests.tearsheet import tearsheet_response
from app.extensions import backend, rw
from app.ids import id_arg
from app.present import equity_csv, job_dict, report_dict, trades_csv
from app.strategies.views import job_strategy_version
from app.trade_table import parse_query
from quantgrid.db import backtests as bt
from quantgrid.db import results
from quantgrid.errors import InvalidInput, NotFound, QuotaExceeded, Unavailable, Unprocessable
from quantgrid.jobs import research
from quantgrid.jobs.spec import FormInvalid, backtest_spec

bp = Blueprint("backtests", __name__, url_prefix="/backtests")


@bp.get("/new")
@login_required
def new():
    values = {}
    if request.args.get("from"):
        job_id = id_arg(request.args["from"], "from")
        job = backend.db.run_read(bt.get_backtest, job_id, current_user, rw=rw())
        values = values_from_job(job)
    elif request.args.get("strategy"):
        # From a sweep's table: the strategy, the series and one combination's parameters.
        values = {k: request.args.get(k, "") for k in ("strategy", "symbol", "timeframe",
                                                        "start", "end")}
        try:
            params = json.loads(request.args.get("params") or "{}")
        except ValueError:
            params = {}
        values["params"] = params if isinstance(params, dict) else {}
    return render_template("backtests/new.html", **form_context(values))


@bp.post("/new")
@login_required
def create():
    data = form_data(request.form)
    chooser = backend.strategies.chooser(current_user._get_current_object(), rw())
    try:
        spec = backtest_spec(data, backend.inventory, chooser)
        job = backend.jobs.submit_backtest(current_user.id, spec, rw=rw())
    except FormInvalid as err:
        return render_template("backtests/new.html", **form_context(data, err.fields)), 400
    except QuotaExceeded as err:
        ctx = form_context(data, message=err.message)
        return render_template("backtests/new.html", **ctx), 429
    flash(f"Backtest {job.id} queued.")
    return redirect(url_for("backtests.show", job_id=job.id))


@bp.get("/<id:job_id>")
@login_required
def show(job_id: int):
    query = parse_query(request.args, form=True)
    job = backend.db.run_read(bt.get_backtest, job_id, current_user, rw=rw())
    report, shown = None, {}
    if job.result_fingerprint:
        report = backend.db.run_read(results.report_for_backtest, job_id, current_user,
                                       rw=rw())
        shown = {**report_context(report, query, backend.settings.account_currency), **_research(job, report)}
    others = backend.db.run_read(
        lambda s: bt.list_backtests(s, current_user, status="succeeded", limit=50), rw=rw()
    )
    return render_template("backtests/show.html", job=job, info=job_dict(job), report=report,
                           others=[o for o in others if o.id != job_id],
                           version=job_strategy_version(job), **shown)


# Why a statistic is missing is shown in its place; none of these should fail the whole page.
_UNAVAILABLE = (InvalidInput, NotFound, Unavailable, Unprocessable)


def _research(job, report) -> dict:
    """The Monte Carlo (the API's default query, with fewer resamples for very many trades; the
    fan chart fetches the same query, from the memo) and the metrics against buy-and-hold of the
    backtest's own symbol."""
    try:
        mc = research.monte_carlo(job, report, research.page_resamples(report))
        montecarlo, montecarlo_reason = montecarlo_view(mc, backend.settings.account_currency), None
    except _UNAVAILABLE as err:
        montecarlo, montecarlo_reason = None, err.message
    try:
        values = research.benchmark_relative(job, report, backend.store, backend.inventory)
        relative, relative_reason = metric_formats.relative(values), None
    except _UNAVAILABLE as err:
        relative, relative_reason = None, err.message
    return {"montecarlo": montecarlo, "montecarlo_reason": montecarlo_reason,
            "relative": relative, "relative_reason": relative_reason}


@bp.post("/<id:job_id>/cancel")
@login_required
def cancel(job_id: int):
    backend.jobs.cancel_backtest(job_id, current_user._get_current_object(), rw=rw())
    flash(f"Backtest {job_id} cancelled.")
    return redirect(url_for("backtests.show", job_id=job_id))


def _report(job_id: int):
    return backend.db.run_read(results.report_for_backtest, job_id, current_user, rw=rw())


def _download(body: str, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/<id:job_id>/trades.csv")
@login_required
def trades_download(job_id: int):
    return _download(trades_csv(_report(job_id)), "text/csv", f"backtest-{job_id}-trades.csv")


@bp.get("/<id:job_id>/equity.csv")
@login_required
def equity_download(job_id: int):
    return _download(equity_csv(_report(job_id)), "text/csv", f"backtest-{job_id}-equity.csv")


@bp.get("/<id:job_id>/result.json")
@login_required
def result_download(job_id: int):
    job = backend.db.run_read(bt.get_backtest, job_id, current_user, rw=rw())
    body = {"backtest": job_dict(job), "result": report_dict(_report(job_id))}
    return _download(json.dumps(body, indent=1), "application/json",
                     f"backtest-{job_id}.json")


@bp.get("/<id:job_id>/tearsheet.html")
@login_required
def tearsheet_download(job_id: int):
    """The result as one self-contained HTML file (app.backtests.tearsheet)."""
    return tearsheet_response(job_id, current_user._get_current_object())
