"""A JSON-safe summary of a job, shared by the CLI and the API."""

from __future__ import annotations

from typing import Any

from quantgrid.db.models import Backtest, Status, Sweep


def describe(job: Backtest | Sweep) -> dict[str, Any]:
    """A JSON-safe summary of a job for the CLI and the API."""
    common = {
        "id": job.id,
        "status": Status(job.status).value,
        "strategy": job.strategy,
        "symbol": job.symbol,
        "timeframe": job.timeframe,
        "start": job.start_at.isoformat(),
        "end": job.end_at.isoformat(),
        "settings": job.settings,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": job.error,
        # A user strategy's version (GET /api/v1/strategy-versions/<id> shows its source).
        "strategy_version_id": job.strategy_version_id,
    }
    if isinstance(job, Sweep):
        return {
            "kind": "sweep",
            **common,
            "total": job.total,
            "progress": job.progress,
            "counts": {s.value: getattr(job, f"n_{s.value}") for s in Status},
            "metric": job.metric,
            "best_params": job.best_params,
            "best_value": job.best_value,
            # How the combinations were chosen (a random search's trials and seed).
            "search": (job.grid or {}).get("search", {"method": "grid"}),
        }
    return {
        "kind": "backtest",
        **common,
        "params": job.params,
        "attempts": job.attempts,
        "worker": job.worker,
        "progress": job.progress,
        "sweep_id": job.sweep_id,
        "result_fingerprint": job.result_fingerprint,
    }
