"""Celery on our qgpg broker vs kombu's stock sqla+postgresql transport vs Redis, in one run.

    .venv/bin/python bench/broker.py [--tasks 5000] [--latency-tasks 500] [--concurrency 2]

For each broker: one real `celery worker` (prefork), the no-op task of tests/support/broker_app.py
with ignore_result=True (so the broker alone is measured), no task events.
- enqueue: TASKS tasks published by one producer with no consumer running;
- throughput: a worker then started on that backlog, timed from its first task start to its
  last (so a producer slower than the worker does not cap the figure);
- latency: LATENCY_TASKS tasks paced at 100/s (below every broker's capacity), each recording
  its submit-to-start time.
Targets (issue 4): qgpg >= 0.75x Redis's throughput, p50 < 5 ms, p99 < 25 ms.
Needs PostgreSQL on 127.0.0.1:5432 (user root) and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import qgpg  # noqa: E402
from tests.support import pg  # noqa: E402
from tests.support.broker_app import make_app  # noqa: E402

CELERY = str(Path(sys.executable).with_name("celery"))


def _lines(log: Path) -> list[tuple[float, float]]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out.append((float(parts[0]), float(parts[1])))
    return out


def _wait_lines(log: Path, count: int, timeout: float) -> list[tuple[float, float]]:
    deadline = time.monotonic() + timeout
    while len(rows := _lines(log)) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(rows)} of {count} tasks ran within {timeout} s")
        time.sleep(0.05)
    return rows


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _start_worker(name: str, env: dict, workdir: Path, concurrency: int):
    log = open(workdir / f"{name}.worker.log", "a")  # noqa: SIM115
    worker = subprocess.Popen(
        [CELERY, "-A", "tests.support.broker_app", "worker", "-c", str(concurrency),
         "-n", f"bench-{name}@%h", "--without-gossip", "--without-mingle", "-l", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    return worker, log


def _stop_worker(worker, log) -> None:
    worker.terminate()
    try:
        worker.wait(60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
    log.close()


def run_one(name: str, url: str, args, workdir: Path) -> dict:
    log = workdir / f"{name}.log"
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, QG_TEST_BROKER_URL=url, QG_BENCH_LOG=str(log), QG_TEST_QUEUE=queue,
               QG_TEST_EVENTS="0", QG_TEST_ACKS_LATE="1" if args.acks_late else "0")
    app = make_app(url, name=f"bench-{name}")
    app.conf.task_default_queue = queue
    worker = None
    try:
        # Warm up (queues declared, worker imported), then stop the worker.
        worker, wlog = _start_worker(name, env, workdir, args.concurrency)
        app.send_task("broker_test.noop", args=(time.time(),))
        _wait_lines(log, 1, 60)
        _stop_worker(worker, wlog)
        worker = None
        log.unlink()

        # Enqueue with no consumer, then time the worker draining the backlog: first task
        # start to last task start (its own start-up is not counted).
        start = time.time()
        for _ in range(args.tasks):
            app.send_task("broker_test.noop", args=(time.time(),))
        enqueue = args.tasks / (time.time() - start)
        worker, wlog = _start_worker(name, env, workdir, args.concurrency)
        rows = _wait_lines(log, args.tasks, 600)
        starts = [started for _, started in rows]
        throughput = (args.tasks - 1) / (max(starts) - min(starts))
        log.unlink()

        # Latency: the worker is idle and waiting; tasks arrive at 100/s.
        for _ in range(args.latency_tasks):
            app.send_task("broker_test.noop", args=(time.time(),))
            time.sleep(0.01)
        rows = _wait_lines(log, args.latency_tasks, 120)
        latencies = sorted((started - sent) * 1000 for sent, started in rows)
        return {
            "name": name,
            "throughput": throughput,
            "enqueue": enqueue,
            "p50": _pct(latencies, 50),
            "p99": _pct(latencies, 99),
        }
    finally:
        if worker is not None:
            _stop_worker(worker, wlog)
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--latency-tasks", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--acks-late", action="store_true", help="acks_late=True on the task")
    parser.add_argument("--only", nargs="*", default=["qgpg", "sqla", "redis"])
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # kombu's stock sqla models warn under SQLAlchemy 2.1

    databases = []
    results = []
    with tempfile.TemporaryDirectory(prefix="qg-bench-") as tmp:
        try:
            urls = {}
            if "qgpg" in args.only:
                name = pg.unique_name("qg_bench_qgpg")
                databases.append(name)
                db = pg.create_database(name)
                pg.migrate(db)
                urls["qgpg"] = qgpg.broker_url(db)
            if "sqla" in args.only:
                name = pg.unique_name("qg_bench_sqla")
                databases.append(name)
                urls["sqla"] = "sqla+" + pg.create_database(name)
            if "redis" in args.only:
                urls["redis"] = "redis://127.0.0.1:6379/0"
            for name, url in urls.items():
                print(f"running {name} ...", flush=True)
                results.append(run_one(name, url, args, Path(tmp)))
        finally:
            for name in databases:
                pg.drop_database(name)

    print(f"\n{args.tasks} no-op tasks, 1 worker x concurrency {args.concurrency}, ignore_result,"
          f" acks_late={args.acks_late}; latency over {args.latency_tasks} tasks at 100/s")
    print(f"{'broker':8} {'tasks/s':>9} {'enqueue/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for r in results:
        print(f"{r['name']:8} {r['throughput']:9.0f} {r['enqueue']:10.0f} {r['p50']:8.1f} {r['p99']:8.1f}")
    by_name = {r["name"]: r for r in results}
    if "qgpg" in by_name and "redis" in by_name:
        q, r = by_name["qgpg"], by_name["redis"]
        ratio = q["throughput"] / r["throughput"]
        print(f"\nqgpg/redis throughput: {ratio:.2f}x (target >= 0.75x); "
              f"p50 {q['p50']:.1f} ms (target < 5); p99 {q['p99']:.1f} ms (target < 25)")
    if "qgpg" in by_name and "sqla" in by_name:
        print(f"qgpg/stock sqla throughput: "
              f"{by_name['qgpg']['throughput'] / by_name['sqla']['throughput']:.2f}x")


if __name__ == "__main__":
    main()
