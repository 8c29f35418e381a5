"""``quantgrid ops status|drain|grow|shrink|purge|requeue|rolling-restart``: operate the workers.

Each drives Celery's remote control (``app.control``, which the ``qgpg`` broker supports), prints
what it did and exits non-zero when it could not (no worker answered, a drain timed out, ...).
See docs/operations.md.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import click

from cli.jobs import requeue_stuck_of_dead_workers
from cli.types import ROW_ID
from quantgrid.errors import QuantGridError, Unavailable

TIMEOUT = 3.0


class OpsFailed(QuantGridError):
    """The operation could not be carried out."""


def _app():
    from tasks.celery_app import app

    return app


def _replies(replies: list[dict] | None, action: str, workers: tuple[str, ...]) -> dict:
    """Flatten control replies; fail when a named worker (or, unnamed, any) did not answer."""
    merged = {name: body for reply in replies or [] for name, body in reply.items()}
    missing = [w for w in workers if w not in merged]
    if not merged or missing:
        raise Unavailable(f"{action}: no reply from {', '.join(missing) or 'any worker'}")
    for name, body in sorted(merged.items()):
        click.echo(f"{action} {name}: {body.get('ok') or body.get('error') or body}")
    errors = [n for n, b in merged.items() if "error" in b]
    if errors:
        raise OpsFailed(f"{action} failed on {', '.join(errors)}")
    return merged


@click.group("ops")
def ops() -> None:
    """Operate the Celery workers: status, drain, pool size, purge, requeue, rolling restart."""


@ops.command("status")
@click.option("--timeout", default=TIMEOUT, show_default=True, help="seconds to wait for replies")
def status(timeout: float) -> None:
    """Workers (ping, stats, active and reserved tasks) and queue depth."""
    app = _app()
    inspect = app.control.inspect(timeout=timeout)
    stats = inspect.stats() or {}
    if not stats:
        raise Unavailable("no worker answered: is any running? (`make cluster-status`)")
    active = inspect.active() or {}
    reserved = inspect.reserved() or {}
    queues = inspect.active_queues() or {}
    click.echo(f"{'WORKER':<28}{'POOL':>5}{'ACTIVE':>8}{'RESERVED':>10}{'DONE':>8}  QUEUES")
    for name, s in sorted(stats.items()):
        pool = s.get("pool", {}).get("max-concurrency", "?")
        done = sum(s.get("total", {}).values())
        names = ",".join(q["name"] for q in queues.get(name, [])) or "-(none: drained)"
        click.echo(
            f"{name:<28}{pool:>5}{len(active.get(name, [])):>8}"
            f"{len(reserved.get(name, [])):>10}{done:>8}  {names}"
        )
    _print_queues()


def _print_queues() -> None:
    from quantgrid.db.monitoring import queue_stats
    from tasks.celery_app import QUEUE
    from tasks.publisher import job_service

    db = job_service().db
    if db.dialect != "postgresql":
        click.echo("queue depth: only with the qgpg broker on PostgreSQL")
        return
    with db.write() as s:
        for q in queue_stats(s, always=(QUEUE,)):
            click.echo(
                f"queue {q.queue}: {q.ready} waiting, {q.leased} delivered, oldest waiting "
                f"{q.oldest_ready_age:.1f} s"
            )


@ops.command("drain")
@click.argument("worker")
@click.option("--wait", "wait_s", default=300.0, show_default=True, help="seconds to wait")
def drain(worker: str, wait_s: float) -> None:
    """Stop WORKER taking new tasks (cancel_consumer) and wait for its active tasks to end."""
    from tasks.celery_app import QUEUE

    app = _app()
    _replies(
        app.control.cancel_consumer(QUEUE, destination=[worker], reply=True, timeout=TIMEOUT),
        "cancel_consumer",
        (worker,),
    )
    deadline = time.monotonic() + wait_s
    while True:
        inspect = app.control.inspect(destination=[worker], timeout=TIMEOUT)
        busy = len((inspect.active() or {}).get(worker, [])) + len(
            (inspect.reserved() or {}).get(worker, [])
        )
        if busy == 0:
            click.echo(f"drained {worker}: it consumes nothing and runs nothing")
            return
        if time.monotonic() > deadline:
            raise OpsFailed(f"{worker} still has {busy} tasks after {wait_s:.0f} s")
        time.sleep(0.5)


@ops.command("undrain")
@click.argument("worker")
def undrain(worker: str) -> None:
    """Make a drained WORKER consume the queue again (add_consumer)."""
    from tasks.celery_app import QUEUE

    _replies(
        _app().control.add_consumer(QUEUE, destination=[worker], reply=True, timeout=TIMEOUT),
        "add_consumer",
        (worker,),
    )


def _pool_size(worker: str) -> int:
    stats = _app().control.inspect(destination=[worker], timeout=TIMEOUT).stats() or {}
    if worker not in stats:
        raise Unavailable(f"no reply from {worker}")
    return len(stats[worker]["pool"].get("processes", []))


def _wait_pool(worker: str, want: int, timeout: float = 15.0) -> int:
    deadline = time.monotonic() + timeout
    while (size := _pool_size(worker)) != want:
        if time.monotonic() > deadline:
            raise OpsFailed(
                f"{worker}: pool has {size} processes, not {want}, after {timeout:.0f} s"
            )
        time.sleep(0.3)
    return size


@ops.command("grow")
@click.argument("worker")
@click.option("-n", default=1, show_default=True, type=click.IntRange(1, 64))
def grow(worker: str, n: int) -> None:
    """Add N processes to WORKER's pool."""
    before = _pool_size(worker)
    _replies(
        _app().control.pool_grow(n, destination=[worker], reply=True, timeout=TIMEOUT),
        "pool_grow",
        (worker,),
    )
    click.echo(f"{worker}: pool {before} -> {_wait_pool(worker, before + n)}")


@ops.command("shrink")
@click.argument("worker")
@click.option("-n", default=1, show_default=True, type=click.IntRange(1, 64))
def shrink(worker: str, n: int) -> None:
    """Remove N processes from WORKER's pool (never below one)."""
    before = _pool_size(worker)
    if before - n < 1:
        raise OpsFailed(f"{worker} has {before} processes; it cannot lose {n}")
    _replies(
        _app().control.pool_shrink(n, destination=[worker], reply=True, timeout=TIMEOUT),
        "pool_shrink",
        (worker,),
    )
    click.echo(f"{worker}: pool {before} -> {_wait_pool(worker, before - n)}")


@ops.command("purge")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def purge(yes: bool) -> None:
    """Cancel every waiting job and delete the task queue's messages."""
    from tasks.celery_app import QUEUE
    from tasks.publisher import job_service

    if not yes:
        click.confirm(f"Cancel every waiting job and empty queue {QUEUE!r}?", abort=True)
    service = job_service()

    def purge_queue() -> int | None:
        with service.publisher.app.connection_for_write() as conn:
            return conn.default_channel.queue_purge(QUEUE)

    done = service.purge_waiting(purge_queue)
    click.echo(
        f"purged {done.messages} messages from {QUEUE}; cancelled {len(done.backtests)} "
        f"backtests {done.backtests} and {len(done.sweeps)} sweeps {done.sweeps}; sent again "
        f"the messages of {done.resent} jobs queued meanwhile"
    )


@ops.command("requeue")
@click.option("--stuck/--no-stuck", default=True, help="jobs running on workers that are gone")
@click.option("--failed", "failed_ids", multiple=True, type=ROW_ID, help="a failed backtest to retry")
@click.option("--grace", default=120, show_default=True, help="seconds a stuck job has run")
def requeue(stuck: bool, failed_ids: tuple[int, ...], grace: int) -> None:
    """Requeue stuck jobs (whose worker is gone) and retry the given failed backtests."""
    from tasks.publisher import job_service

    service = job_service()
    if stuck:
        click.echo(requeue_stuck_of_dead_workers(service, timedelta(seconds=grace)))
    for job_id in failed_ids:
        job = service.retry_backtest(job_id, None)
        click.echo(f"retried backtest {job.id}")


@ops.command("rolling-restart")
@click.option("--run-dir", type=click.Path(path_type=Path), default=Path("var/cluster"))
def rolling_restart(run_dir: Path) -> None:
    """Restart the cluster's workers one at a time: drain, warm shutdown, start, wait for ping."""
    script = Path(__file__).resolve().parents[1] / "ops" / "scripts" / "cluster.py"
    proc = subprocess.run(
        [sys.executable, str(script), "rolling-restart", "--run-dir", str(run_dir)], check=False
    )
    if proc.returncode != 0:
        raise OpsFailed(f"rolling restart failed (exit {proc.returncode})")


commands = [ops]
