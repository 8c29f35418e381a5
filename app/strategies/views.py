"""The strategy editor: the signed-in user's saved strategies, writing one (from a built-in's
source as a template), checking it (the page's script asks POST /api/v1/strategy-check),
saving it and its new versions, and deleting it; and the version a job ran, for its page."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.extensions import backend, rw
from engine.lang import EXAMPLES, FUNCTIONS, LIMITS, example
from quantgrid.db import strategies as saved
from quantgrid.db.models import UserStrategy
from quantgrid.errors import InvalidInput, QuotaExceeded
from quantgrid.jobs.strategies import InvalidStrategySource, strategy_of

bp = Blueprint("strategies", __name__, url_prefix="/strategies")


def saved_choices() -> list[dict]:
    """The signed-in user's saved strategies (latest versions) as the job forms list them."""
    rows = backend.db.run_read(saved.list_strategies, current_user, rw=rw())
    return [{**strategy_of(r).schema(), "saved": True, "version": r.version} for r in rows]


def job_strategy_version(job) -> UserStrategy | None:
    """The saved or inline version a job of a user strategy ran (None for a built-in)."""
    if job.strategy_version_id is None:
        return None
    return backend.db.run_read(saved.get_visible_by_id, current_user, job.strategy_version_id,
                               rw=rw())  # fmt: skip


@bp.get("")
@login_required
def index():
    rows = backend.db.run_read(saved.list_strategies, current_user, rw=rw())
    return render_template("strategies/index.html",
                           strategies=[(r, strategy_of(r)) for r in rows])  # fmt: skip


def _editor(status: int = 200, **ctx):
    ctx.setdefault("errors", {})
    ctx.setdefault("problems", [])
    ctx.setdefault("message", None)
    page = render_template("strategies/edit.html", templates=EXAMPLES, functions=FUNCTIONS.values(),
                           max_chars=min(LIMITS["source_chars"],
                                         backend.settings.quota_max_strategy_chars), **ctx)
    return page, status


@bp.get("/new")
@login_required
def new():
    template = request.args.get("template", EXAMPLES[0])
    if template not in EXAMPLES:
        template = EXAMPLES[0]
    return _editor(name=None, template=template, source=example(template), values={})


@bp.post("/new")
@login_required
def create():
    name, source = request.form.get("name", "").strip(), request.form.get("source", "")
    try:
        row = backend.strategies.create(current_user.id, name, source, rw=rw())
    except saved.StrategyExists as err:
        return _saving_failed(err, name=None, source=source, values={"name": name},
                              errors={"name": err.message})
    except (InvalidInput, QuotaExceeded) as err:
        return _saving_failed(err, name=None, source=source, values={"name": name})
    flash(f"Saved {row.name} version {row.version}.")
    return redirect(url_for("strategies.edit", name=row.name))


def _saving_failed(err, **ctx):
    """The editor again with the unsaved source and what to fix: each problem at its place."""
    if isinstance(err, InvalidStrategySource):
        count = len(err.problems)
        ctx["problems"] = err.problems
        ctx["message"] = (f"Not saved: the source has {count} "
                          f"{'mistake' if count == 1 else 'mistakes'}; fix them and save again.")
    elif "errors" not in ctx:
        ctx["message"] = f"Not saved: {err.message}"
    return _editor(err.http_status, **ctx)


def _versions(name: str) -> list[UserStrategy]:
    rows = backend.db.run_read(lambda s: saved.versions(s, current_user.id, name), rw=rw())
    if not rows:
        abort(404, f"You have no strategy named {name!r}; see your strategies.")
    return rows


@bp.get("/<name>/edit")
@login_required
def edit(name: str):
    versions = _versions(name)
    wanted = request.args.get("version", type=int)
    shown = next((v for v in versions if v.version == wanted), None if wanted else versions[0])
    if shown is None:
        abort(404, f"{name} has no version {wanted}; its versions are "
                   f"{', '.join(str(v.version) for v in versions)}.")
    return _editor(name=name, source=shown.source, shown=shown, versions=versions, values={})


@bp.post("/<name>/edit")
@login_required
def add_version(name: str):
    source = request.form.get("source", "")
    try:
        row = backend.strategies.add_version(current_user.id, name, source, rw=rw())
    except (InvalidInput, QuotaExceeded) as err:
        versions = _versions(name)
        return _saving_failed(err, name=name, source=source, shown=None, versions=versions,
                              values={})
    flash(f"Saved {row.name} version {row.version}.")
    return redirect(url_for("strategies.edit", name=row.name))


@bp.post("/<name>/delete")
@login_required
def delete(name: str):
    hidden = backend.strategies.delete(current_user.id, name, rw=rw())
    flash(f"Deleted {name} ({hidden} {'version' if hidden == 1 else 'versions'}); "
          "the jobs that ran it keep its source.")
    return redirect(url_for("strategies.index"))
