"""``quantgrid jobs list|show|cancel|retry|requeue-stuck`` and ``quantgrid workers list``.

Operator commands: they see every user's jobs. Workers are found through Celery's remote
control (``inspect``), which the ``qgpg`` broker supports.
"""

from __future__ import annotations

import json
from datetime import timedelta

import click

from cli.types import ROW_ID
from quantgrid.db import backtests as bt
from quantgrid.db import sweeps
from quantgrid.db.backtests import MAX_PAGE
from quantgrid.db.models import MAX_ID
from quantgrid.errors import Unavailable


def _service():
    from tasks.publisher import job_service

    return job_service()


def _echo_json(value) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


@click.group("jobs")
def jobs() -> None:
    """List, show, cancel, retry and requeue backtests and sweeps."""


@jobs.command("list")
@click.option("--status", default=None, help="queued, running, succeeded, failed or cancelled")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, MAX_PAGE))
@click.option("--offset", default=0, type=click.IntRange(0, MAX_ID))
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def list_(status: str | None, limit: int, offset: int, as_json: bool) -> None:
    """Backtests and sweeps, newest first."""
    service = _service()
    rows = service.db.run_read(bt.list_jobs, None, status=status, limit=limit, offset=offset)
    if as_json:
        _echo_json([r.__dict__ for r in rows])
        return
    click.echo(
        f"{'KIND':<9}{'ID':>7}  {'STATUS':<10}{'PROGRESS':>9}  {'STRATEGY':<20}{'SYMBOL':<12}TF"
    )
    for r in rows:
        click.echo(
            f"{r.kind:<9}{r.id:>7}  {r.status.value:<10}{r.progress:>8.0%}  "
            f"{r.strategy:<20}{r.symbol:<12}{r.timeframe}"
        )


@jobs.command("show")
@click.argument("job_id", type=ROW_ID)
@click.option("--sweep", is_flag=True, help="JOB_ID is a sweep")
def show(job_id: int, sweep: bool) -> None:
    """Print one job as JSON (with its metrics once it has succeeded)."""
    from quantgrid.db import results
    from quantgrid.jobs.describe import describe

    service = _service()

    def load(s):
        if sweep:
            return describe(sweeps.get_sweep(s, job_id))
        out = describe(bt.get_backtest(s, job_id))
        if out["result_fingerprint"]:
            out["metrics"] = results.report_for_backtest(s, job_id).metrics
        return out

    _echo_json(service.db.run_read(load))


@jobs.command("cancel")
@click.argument("job_id", type=ROW_ID)
@click.option("--sweep", is_flag=True, help="JOB_ID is a sweep")
def cancel(job_id: int, sweep: bool) -> None:
    """Cancel a queued or running job (a running task is terminated)."""
    service = _service()
    done = service.cancel_sweep(job_id, None) if sweep else service.cancel_backtest(job_id, None)
    click.echo(
        f"cancelled {'sweep' if sweep else 'backtest'} {job_id} (was {done.previous_status.value})"
    )


@jobs.command("retry")
@click.argument("job_id", type=ROW_ID)
@click.option("--sweep", is_flag=True, help="JOB_ID is a sweep (its failed and cancelled chunks run again)")
def retry(job_id: int, sweep: bool) -> None:
    """Queue a failed or cancelled backtest, or sweep, again."""
    service = _service()
    if sweep:
        service.retry_sweep(job_id, None)
    else:
        service.retry_backtest(job_id, None)
    click.echo(f"queued {'sweep' if sweep else 'backtest'} {job_id} again")


@jobs.command("requeue-stuck")
@click.option(
    "--grace",
    default=120,
    show_default=True,
    type=int,
    help="only jobs started at least this many seconds ago",
)
def requeue_stuck(grace: int) -> None:
    """Requeue jobs marked running on workers that no longer answer."""
    click.echo(requeue_stuck_of_dead_workers(_service(), timedelta(seconds=grace)))


def requeue_stuck_of_dead_workers(service, grace: timedelta) -> str:
    """Requeue the jobs of workers that do not answer ping; say what was done.

    Refused when no worker answers: a broker hiccup is not a dead cluster, and requeueing the
    jobs of live workers would run them twice.
    """
    alive = set(_names(service.publisher.app))
    if not alive:
        raise Unavailable("no worker answered ping: refusing to call every running job stuck")
    done = service.requeue_stuck(alive, grace)
    return (
        f"requeued {len(done['backtests'])} stuck backtests {done['backtests']} and "
        f"{len(done['chunks'])} sweep chunks {done['chunks']} (live: {', '.join(sorted(alive))})"
    )


def _names(app) -> list[str]:
    return [name for reply in app.control.ping(timeout=2.0) for name in reply]


@click.group("workers")
def workers() -> None:
    """Inspect the Celery workers."""


@workers.command("list")
@click.option("--json", "as_json", is_flag=True)
def workers_list(as_json: bool) -> None:
    """Workers that answer, with their active tasks."""
    app = _service().publisher.app
    active = app.control.inspect(timeout=2.0).active() or {}
    if as_json:
        _echo_json(active)
        return
    if not active:
        click.echo("no workers answered")
        return
    for name, tasks in sorted(active.items()):
        click.echo(f"{name}: {len(tasks)} active")
        for task in tasks:
            click.echo(f"  {task.get('id')} {task.get('name')} {task.get('args')}")


commands = [jobs, workers]
