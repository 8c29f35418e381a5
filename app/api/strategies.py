"""API routes of the strategies users write: check, save, version, list, show, delete.

A saved strategy is addressed by its name among the caller's own; an admin lists everyone's
(``?all=1``) and reads another user's with ``?owner=<user id>``. Jobs name a saved strategy
(``"strategy"``, optionally ``"strategy_version"``) or carry ``"source"`` inline.
"""

from __future__ import annotations

from flask import request

from app.api import bp
from app.api.views import _int_arg, _json_body
from app.auth import api_viewer
from app.extensions import backend, rw
from engine import strategies as builtins
from quantgrid.db import strategies as saved
from quantgrid.db.models import MAX_ID, UserStrategy
from quantgrid.errors import InvalidInput
from quantgrid.jobs.strategies import strategy_of


def version_dict(row: UserStrategy, with_source: bool = True) -> dict:
    """A saved (or inline) version: its name, number, parameters and, by default, its source."""
    out = {
        "saved": True, "name": row.name, "version": row.version, "id": row.id,
        "owner_id": row.owner_id, "source_hash": row.source_hash,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        **{k: v for k, v in strategy_of(row).schema().items() if k not in ("name", "source_hash")},
    }  # fmt: skip
    if with_source:
        out["source"] = row.source
    return out


@bp.get("/strategies")
def list_strategies():
    """The built-ins, then the caller's saved strategies (everyone's for an admin with all=1)."""
    viewer = api_viewer()
    everyone = request.args.get("all")
    if everyone not in (None, "1"):
        raise InvalidInput(f"all must be 1 (every user's strategies, for an admin), got {everyone!r}")
    rows = backend.db.run_read(saved.list_strategies, viewer, everyone == "1", rw=rw())
    return {"items": [{**s.schema(), "saved": False} for s in builtins.available().values()]
            + [version_dict(r, with_source=False) for r in rows]}  # fmt: skip


@bp.post("/strategy-check")
def check_strategy():
    """Compile source without saving it: its parameters, or 400 with each problem's place."""
    api_viewer()
    strategy = backend.strategies.check(_json_body().get("source"))
    return {"name": strategy.name, **strategy.schema()}


@bp.post("/strategies")
def create_strategy():
    viewer = api_viewer()
    body = _json_body()
    row = backend.strategies.create(viewer.id, body.get("name"), body.get("source"), rw=rw())
    return version_dict(row), 201, {"Location": f"/api/v1/strategies/{row.name}"}


def _owner(viewer) -> int | None:
    raw = request.args.get("owner")
    return None if raw is None else _int_arg("owner", viewer.id, 1, MAX_ID)


@bp.get("/strategies/<name>")
def show_strategy(name: str):
    """The latest version with its source, and every version's number and date."""
    viewer = api_viewer()
    owner = _owner(viewer)

    def read(s):
        row = saved.get_version(s, viewer, name, owner_id=owner)
        return row, saved.versions(s, row.owner_id, name)

    row, versions = backend.db.run_read(read, rw=rw())
    return {**version_dict(row), "versions": [
        {"version": v.version, "id": v.id, "source_hash": v.source_hash,
         "created_at": v.created_at.isoformat() if v.created_at else None} for v in versions]}


@bp.get("/strategies/<name>/versions/<int:version>")
def show_strategy_version(name: str, version: int):
    viewer = api_viewer()
    if version > MAX_ID:  # the column's range: no such version
        raise saved.StrategyNotFound(f"you have no strategy {name!r} version {version}")
    row = backend.db.run_read(saved.get_version, viewer, name, version,
                              _owner(viewer), rw=rw())  # fmt: skip
    return version_dict(row)


@bp.post("/strategies/<name>/versions")
def add_strategy_version(name: str):
    viewer = api_viewer()
    row = backend.strategies.add_version(viewer.id, name, _json_body().get("source"), rw=rw())
    return version_dict(row), 201, {
        "Location": f"/api/v1/strategies/{name}/versions/{row.version}"}


@bp.delete("/strategies/<name>")
def delete_strategy(name: str):
    viewer = api_viewer()
    hidden = backend.strategies.delete(viewer.id, name, rw=rw())
    return {"name": name, "deleted_versions": hidden}


@bp.get("/strategy-versions/<id:version_id>")
def show_version_by_id(version_id: int):
    """Any version a job ran (saved, inline or deleted since): the source behind a result."""
    viewer = api_viewer()
    row = backend.db.run_read(saved.get_visible_by_id, viewer, version_id, rw=rw())
    return version_dict(row)
