"""Sweep requests built in tests, as ``quantgrid.jobs.spec.sweep_request`` builds them."""

from __future__ import annotations

from engine.sweep import parse_grid
from quantgrid.db.backtests import JobSpec
from quantgrid.jobs.spec import SweepRequest


def sweep_of(spec: JobSpec, grid: list[str], metric: str = "sharpe") -> SweepRequest:
    """A checked sweep of ``spec`` over ``grid`` (``name=start:stop:step`` / ``name=a,b``)."""
    return SweepRequest(spec, list(grid), parse_grid(list(grid), spec.strategy), metric)
