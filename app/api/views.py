"""API routes: thin wrappers over validation, the job service and the data layer."""

from __future__ import annotations

import io

from flask import abort, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.api import bp
from app.api.openapi import document
from app.auth import api_viewer
from app.backtests.tearsheet import tearsheet_response
from app.candles.views import allow_upload_size, import_upload, may_upload, too_large_message
from app.extensions import backend, csrf, rw
from app.ids import int_arg
from app.present import candles_dict, equity_dict, job_dict, report_dict
from app.trade_table import parse_query, trade_page
from engine.metrics import METRIC_KEYS
from quantgrid.candles.errors import CandleFileError
from quantgrid.db import backtests as bt
from quantgrid.db import results, sweeps, web
from quantgrid.db.models import UNFINISHED, Status
from quantgrid.errors import InvalidInput
from quantgrid.jobs import research
from quantgrid.jobs.spec import MAX_SEED, backtest_spec, series_choices, sweep_request
from quantgrid.jobs.statistics import sweep_statistics

# The API authenticates each request itself (see api_viewer), checking CSRF for sessions.
csrf.exempt(bp)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    return int_arg(request.args, name, default, low, high)


def _page() -> tuple[int, int]:
    return _int_arg("limit", 20, 1, bt.MAX_PAGE), _int_arg("offset", 0, 0, 10**9)


def _chooser(viewer):
    """Resolves a job request's strategy: a built-in, one of the viewer's saved ones, or source."""
    return backend.strategies.chooser(viewer, rw())


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object with Content-Type: application/json")
    return body


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.0 description of this API."""
    return jsonify(document())


@bp.get("/me")
def me():
    user = api_viewer()
    return {"id": user.id, "username": user.username, "role": user.role}


@bp.get("/symbols")
def list_symbols():
    api_viewer()
    series = series_choices(backend.inventory)
    return {
        "items": [
            {"symbol": sym, "timeframes": e["timeframes"], "stored": e["stored"],
             "first": e["first"] // 1_000_000_000, "last": e["last"] // 1_000_000_000}
            for sym, e in sorted(series.items())
        ]
    }


@bp.post("/candles/<symbol>/<timeframe>")
def upload_candles(symbol: str, timeframe: str):
    """Import a CSV body as ``quantgrid candles import`` does (admins and the data role)."""
    viewer = api_viewer()
    may_upload(viewer)
    if request.mimetype not in ("text/csv", "text/plain"):
        raise InvalidInput("send the CSV file as the body with Content-Type: text/csv")
    allow_upload_size()
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        abort(413, too_large_message())
    source = io.BytesIO(body)
    source.name = "the body"  # how the errors name it: "the body line 3: ..."
    try:
        done = import_upload(source, symbol, timeframe)
    except CandleFileError as err:
        error = {"code": "candle_file_error", "message": err.message,
                 "lines": [{"line": n, "message": m} for n, m in err.lines],
                 "bad_lines": err.bad_lines}
        return jsonify({"error": error}), 400
    return jsonify({"symbol": done.symbol, "timeframe": done.timeframe, "rows": done.rows,
                    "first": done.first // 1_000_000_000, "last": done.last // 1_000_000_000,
                    "summary": done.summary()}), 201


@bp.get("/jobs")
def list_jobs():
    viewer = api_viewer()
    limit, offset = _page()

    def read(s):
        return bt.list_jobs(s, viewer, limit=limit, offset=offset), web.count_jobs(s, viewer)

    rows, total = backend.db.run_read(read, rw=rw())
    items = [
        {"kind": r.kind, "id": r.id, "status": r.status.value, "strategy": r.strategy,
         "symbol": r.symbol, "timeframe": r.timeframe, "created_at": r.created_at.isoformat(),
         "progress": r.progress, "error": r.error}
        for r in rows
    ]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


# -- backtests ----------------------------------------------------------------------------------
@bp.post("/backtests")
def create_backtest():
    viewer = api_viewer()
    spec = backtest_spec(_json_body(), backend.inventory, _chooser(viewer))
    job = backend.jobs.submit_backtest(
        viewer.id, spec, rw=rw(), request_id=request.headers.get("X-Request-Id")
    )
    return jsonify(job_dict(job)), 201, {"Location": f"/api/v1/backtests/{job.id}"}


@bp.get("/backtests")
def list_backtests():
    viewer = api_viewer()
    limit, offset = _page()
    status = request.args.get("status")
    if status is not None and status not in {s.value for s in Status}:
        raise InvalidInput(f"status must be one of {', '.join(s.value for s in Status)}, "
                           f"got {status!r}")

    def read(s):
        return (
            bt.list_backtests(s, viewer, status=status, limit=limit, offset=offset),
            bt.count_backtests(s, viewer, status=status),
        )

    rows, total = backend.db.run_read(read, rw=rw())
    return {"items": [job_dict(j) for j in rows], "total": total, "limit": limit,
            "offset": offset}


@bp.get("/backtests/<id:job_id>")
def show_backtest(job_id: int):
    viewer = api_viewer()
    return job_dict(backend.db.run_read(bt.get_backtest, job_id, viewer, rw=rw()))


@bp.post("/backtests/<id:job_id>/cancel")
def cancel_backtest(job_id: int):
    viewer = api_viewer()
    backend.jobs.cancel_backtest(job_id, viewer, rw=rw())
    return job_dict(backend.db.run_read(bt.get_backtest, job_id, viewer, rw=rw()))


def report_for(job_id: int, viewer):
    return backend.db.run_read(results.report_for_backtest, job_id, viewer, rw=rw())


@bp.get("/backtests/<id:job_id>/result")
def backtest_result(job_id: int):
    return report_dict(report_for(job_id, api_viewer()))


@bp.get("/backtests/<id:job_id>/trades")
def backtest_trades(job_id: int):
    return {"items": report_for(job_id, api_viewer()).trades}


@bp.get("/backtests/<id:job_id>/trades/page")
def backtest_trades_page(job_id: int):
    """One page of the trades, filtered by side and exit reason and sorted (the result page's
    table); each item adds its number, side, units, duration and the texts the page shows."""
    viewer = api_viewer()
    query = parse_query(request.args)
    return trade_page(report_for(job_id, viewer).trades, query,
                      backend.settings.account_currency).to_json()


@bp.get("/backtests/<id:job_id>/tearsheet")
def backtest_tearsheet(job_id: int):
    """The result as one self-contained HTML file (the result page's "Tearsheet (HTML)")."""
    return tearsheet_response(job_id, api_viewer())


@bp.get("/backtests/<id:job_id>/equity")
def backtest_equity(job_id: int):
    return equity_dict(report_for(job_id, api_viewer()))


def _job_and_report(job_id: int, viewer):
    """The backtest and its result, with the same viewer check (and 404) as /result."""
    def read(s):
        return (bt.get_backtest(s, job_id, viewer),
                results.report_for_backtest(s, job_id, viewer))

    return backend.db.run_read(read, rw=rw())


@bp.get("/backtests/<id:job_id>/montecarlo")
def backtest_montecarlo(job_id: int):
    """Percentiles of final equity and maximum drawdown over resampled trade sequences."""
    viewer = api_viewer()
    resamples = _int_arg("resamples", research.DEFAULT_RESAMPLES, research.MIN_RESAMPLES,
                         research.MAX_RESAMPLES)
    seed = _int_arg("seed", research.DEFAULT_SEED, 0, MAX_SEED)
    block = _int_arg("block", research.DEFAULT_BLOCK, 1, research.MAX_BLOCK)
    job, report = _job_and_report(job_id, viewer)
    return research.monte_carlo(job, report, resamples, seed, block)


@bp.get("/backtests/<id:job_id>/relative")
def backtest_relative(job_id: int):
    """Alpha, beta, tracking error and information ratio against buy-and-hold of a symbol."""
    viewer = api_viewer()
    job, report = _job_and_report(job_id, viewer)
    return research.benchmark_relative(job, report, backend.store, backend.inventory,
                                       request.args.get("benchmark"))


@bp.get("/backtests/<id:job_id>/candles")
def backtest_candles(job_id: int):
    viewer = api_viewer()
    job = backend.db.run_read(bt.get_backtest, job_id, viewer, rw=rw())
    candles = backend.store.read(job.symbol, job.timeframe, job.start_at, job.end_at,
                                   gaps="allow")
    return candles_dict(candles)


# -- sweeps -------------------------------------------------------------------------------------
@bp.post("/sweeps/preview")
def preview_sweep():
    """How many combinations a sweep request makes, and whether the user's quota allows it."""
    viewer = api_viewer()
    checked = sweep_request(_json_body(), backend.inventory, _chooser(viewer))
    combos = checked.combinations
    limit = backend.db.run_read(
        lambda s: backend.limits.for_user(_user_row(s, viewer.id)).max_sweep_size, rw=rw()
    )
    return {"combinations": len(combos), "dropped": combos.dropped,
            "dropped_reason": combos.drop_reason, "max_sweep_size": limit,
            "allowed": len(combos) <= limit, "grid": checked.grid, "metric": checked.metric,
            "search": checked.search}


def _user_row(s, user_id):
    from quantgrid.db.users import get_user

    return get_user(s, user_id)


@bp.post("/sweeps")
def create_sweep():
    viewer = api_viewer()
    checked = sweep_request(_json_body(), backend.inventory, _chooser(viewer))
    sweep = backend.jobs.submit_sweep(viewer.id, checked, rw=rw(),
                                        request_id=request.headers.get("X-Request-Id"))
    return jsonify(job_dict(sweep)), 201, {"Location": f"/api/v1/sweeps/{sweep.id}"}


@bp.get("/sweeps")
def list_sweeps():
    viewer = api_viewer()
    limit, offset = _page()

    def read(s):
        return (sweeps.list_sweeps(s, viewer, limit=limit, offset=offset),
                web.count_sweeps(s, viewer))

    rows, total = backend.db.run_read(read, rw=rw())
    return {"items": [job_dict(j) for j in rows], "total": total, "limit": limit,
            "offset": offset}


@bp.get("/sweeps/<id:sweep_id>")
def show_sweep(sweep_id: int):
    viewer = api_viewer()
    return job_dict(backend.db.run_read(sweeps.get_sweep, sweep_id, viewer, rw=rw()))


@bp.post("/sweeps/<id:sweep_id>/cancel")
def cancel_sweep(sweep_id: int):
    viewer = api_viewer()
    backend.jobs.cancel_sweep(sweep_id, viewer, rw=rw())
    return job_dict(backend.db.run_read(sweeps.get_sweep, sweep_id, viewer, rw=rw()))


@bp.get("/sweeps/<id:sweep_id>/results")
def sweep_results(sweep_id: int):
    """Every combination in grid order with its metrics (null until its chunk is done), and
    once the sweep has finished the DSR of its best combination and its PBO."""
    viewer = api_viewer()

    def read(s):
        sweep = sweeps.get_sweep(s, sweep_id, viewer)
        research = None if sweep.status in UNFINISHED else sweeps.research_rows(s, sweep_id)
        return sweep, sweeps.grid_results(s, sweep_id), research

    sweep, rows, research = backend.db.run_read(read, rw=rw())
    return {
        "sweep": job_dict(sweep),
        "metrics": list(METRIC_KEYS),
        "items": [{"index": r.index, "params": r.params, "status": r.status.value,
                   "metrics": r.metrics} for r in rows],
        "statistics": sweep_statistics(sweep, research),
    }
