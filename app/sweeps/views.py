"""New sweep form and sweep result page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app import formats as f
from app import metric_formats
from app.backtests.forms import form_context, sweep_form_data
from app.extensions import backend, rw
from app.present import job_dict
from app.strategies.views import job_strategy_version
from engine import strategies
from engine.metrics import HIGHER_IS_BETTER, METRIC_KEYS
from engine.strategies import Strategy
from quantgrid.db import strategies as saved
from quantgrid.db import sweeps, web
from quantgrid.db.backtests import JobSpec
from quantgrid.db.errors import JobNotFound
from quantgrid.db.models import UNFINISHED
from quantgrid.errors import InvalidInput, QuotaExceeded
from quantgrid.jobs.spec import FormInvalid, sweep_request
from quantgrid.jobs.statistics import sweep_statistics
from quantgrid.jobs.strategies import strategy_of

bp = Blueprint("sweeps", __name__, url_prefix="/sweeps")
# The metrics beside each of the best combinations in the sweep page's table.
TOP_METRICS = ("sharpe", "return_pct", "max_drawdown_pct", "trades")


def _render(values=None, errors=None, message=None, status=200):
    return render_template("sweeps/new.html", **form_context(values, errors, message)), status


@bp.get("/new")
@login_required
def new():
    return _render({"strategy": request.args.get("strategy", "")})


@bp.post("/new")
@login_required
def create():
    data = sweep_form_data(request.form)
    chooser = backend.strategies.chooser(current_user._get_current_object(), rw())
    try:
        checked = sweep_request(data, backend.inventory, chooser)
        sweep = backend.jobs.submit_sweep(current_user.id, checked, rw=rw())
    except FormInvalid as err:
        return _render(data, err.fields, status=400)
    except QuotaExceeded as err:
        return _render(data, message=err.message, status=429)
    flash(f"Sweep {sweep.id} queued: {sweep.total} combinations.")
    return redirect(url_for("sweeps.show", sweep_id=sweep.id))


@bp.get("/<id:sweep_id>")
@login_required
def show(sweep_id: int):
    viewer = current_user._get_current_object()

    def read(s):
        sweep = sweeps.get_sweep(s, sweep_id, viewer)
        research = None if sweep.status in UNFINISHED else sweeps.research_rows(s, sweep_id)
        return sweep, sweeps.top_results(s, sweep_id, n=20), research

    sweep, top, research = backend.db.run_read(read, rw=rw())
    axes = list(top[0].params) if top else []
    explained = None if research is None else explain(sweep_statistics(sweep, research))
    currency = backend.settings.account_currency
    columns = [metric_formats.info(m).name for m in TOP_METRICS]
    cells = [[metric_formats.shown(m, r.metrics.get(m), currency) for m in TOP_METRICS]
             for r in top]  # fmt: skip
    return render_template("sweeps/show.html", sweep=sweep, info=job_dict(sweep),
                           top=list(zip(top, cells, strict=True)), columns=columns, axes=axes,
                           metrics=[(m, metric_formats.info(m).name) for m in METRIC_KEYS],
                           higher=sorted(HIGHER_IS_BETTER), version=job_strategy_version(sweep),
                           statistics=explained)  # fmt: skip


def explain(stats: dict) -> dict[str, str]:
    """Two sentences a trader reads for each of the DSR and the PBO (or why it is missing)."""
    d, p = stats["deflated_sharpe"], stats["pbo"]
    if d["available"]:
        dsr = (f"DSR {f.ratio(d['dsr'])}: after allowing for the {f.count(d['trials'])} "
               f"combinations tried, there is a {f.fraction(d['dsr'])} probability that the "
               "best one has a real edge: that its true Sharpe ratio beats the "
               f"{f.ratio(d['sr0'])} per period that the best of as many combinations without "
               f"any edge would reach by luck alone (its own is {f.ratio(d['sharpe'])}).")
    else:
        dsr = f"DSR not available: {d['reason']}."
    if p["available"]:
        if p["pbo"] >= 0.35:  # near 0.5 is what pure noise gives
            verdict = "the grid's winner is largely luck."
        elif p["pbo"] >= 0.1:
            verdict = "the grid's winner is partly luck: trust it with care."
        else:
            verdict = "the grid's winner held up out of sample, more like an edge than luck."
        pbo = (f"PBO {f.ratio(p['pbo'])}: in {f.fraction(p['pbo'])} of the "
               f"{f.count(p['combinations'])} in-sample/out-of-sample splits of the range the "
               "in-sample best ranked in the bottom half out of sample. So " + verdict)
    else:
        pbo = f"PBO not available: {p['reason']}."
    return {"dsr": dsr, "pbo": pbo}


@bp.post("/<id:sweep_id>/rows/<int:index>/backtest")
@login_required
def row_backtest(sweep_id: int, index: int):
    """Open the full backtest of combination ``index``: the signed-in user's existing queued,
    running or succeeded one with exactly these inputs, else a new one (an admin's is their own)."""
    viewer = current_user._get_current_object()

    def read(s):
        sweep = sweeps.get_sweep(s, sweep_id, viewer)
        row = next((r for r in sweeps.grid_results(s, sweep_id) if r.index == index), None)
        if row is None:
            raise JobNotFound(f"sweep {sweep_id} has no combination {index}")
        # A user strategy's sweep: the same version, whatever was saved since.
        version = (saved.get_by_id(s, sweep.strategy_version_id)
                   if sweep.strategy_version_id is not None else None)  # fmt: skip
        strategy = strategy_of(version) if version else sweep.strategy
        spec = JobSpec(sweep.strategy, sweep.symbol, sweep.timeframe, sweep.start_at,
                       sweep.end_at, _checked_params(strategy, row.params), sweep.settings,
                       strategy_version_id=sweep.strategy_version_id,
                       source_hash=version.source_hash if version else None)
        return spec, web.find_backtest(s, viewer.id, spec)

    spec, job = backend.db.run_read(read, rw=rw())
    if job is None:
        try:
            job = backend.jobs.submit_backtest(viewer.id, spec, rw=rw())
        except (QuotaExceeded, InvalidInput) as err:
            flash(err.message)
            return redirect(url_for("sweeps.show", sweep_id=sweep_id), 303)
    return redirect(url_for("backtests.show", job_id=job.id), 303)


def _checked_params(strategy: Strategy | str, params: dict) -> dict:
    """The combination as the job service stores it (defaults filled), so lookups match."""
    try:
        if isinstance(strategy, str):
            strategy = strategies.get(strategy)
        return dict(strategy.validate(params))
    except (KeyError, ValueError, TypeError) as err:
        raise InvalidInput(str(err).strip("'\"")) from None


@bp.post("/<id:sweep_id>/cancel")
@login_required
def cancel(sweep_id: int):
    backend.jobs.cancel_sweep(sweep_id, current_user._get_current_object(), rw=rw())
    flash(f"Sweep {sweep_id} cancelled.")
    return redirect(url_for("sweeps.show", sweep_id=sweep_id))
