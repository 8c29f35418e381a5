"""Load through the public entry: many clients submit backtests and sweeps at once.

    python bench/load.py                  # its own cluster (ops/scripts/cluster.py, base 19200)
    python bench/load.py --design         # ... with the design's 3x2 Gunicorn and 3x6 workers
    python bench/load.py --short          # 100 backtests, 2 sweeps of 100, 10 clients
    python bench/load.py --embedded       # one gunicorn + one worker on SQLite (make run's set-up)
    python bench/load.py --url URL --database-url DB   # a running deployment

Full size: 1,000 single backtests and 10 sweeps of 1,000 combinations from 50 clients (threads,
one requests session and one user each). Prints submissions/s, submit latency p50/p99, the time
until every job is final, the CPU the deployment spent per Celery task (backtest or sweep chunk)
while the load ran, and the accounting: submitted = finished, no duplicate result. Then, on the idle
deployment, the time from one submission to its job's success (median of 20 one at a time).
Exits 1 when the accounting does not hold (the figures are for reading, never asserted).

The CPU figure counts every process of the deployment together (API, workers, databases, NGINX,
Flower, exporters) and nothing else: the process trees it started (DeploymentCpu), so that other
work on the machine does not count. The machine's busy time less this process's own is printed
beside it (``machine_cpu_s``); with ``--url`` it is the only figure, and needs a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
JOB = {
    "strategy": "sma_cross", "symbol": "DEMO", "timeframe": "1h",
    "start": "2020-01-02", "end": "2020-03-20", "settings": {"cash": 10000, "commission": 0.001},
}  # fmt: skip
FINAL = ("succeeded", "failed", "cancelled")


def sweep_grid(size: int) -> dict:
    """A sma_cross grid of exactly ``size`` valid combinations (fast < slow always)."""
    fast = min(size, 40)
    assert size % fast == 0, "size must be a multiple of 40 (or at most 40)"
    return {"fast": f"2:{1 + fast}:1", "slow": f"50:{49 + size // fast}:1"}


def _create_users(env: dict, n: int, tag: str) -> list[str]:
    """``n`` users with a token each (the CLI, on the deployment's database)."""
    tokens = []
    for i in range(n):
        name = f"load-{tag}-{i}"
        subprocess.run([str(VENV_BIN / "quantgrid"), "users", "create", name, "--password",
                        "a-long-enough-password-1"], env=env, check=True, capture_output=True)  # fmt: skip
        out = subprocess.run([str(VENV_BIN / "quantgrid"), "tokens", "create", name, "--name",
                              "load"], env=env, check=True, capture_output=True, text=True)  # fmt: skip
        tokens.append(out.stdout.strip().split()[-1])
    return tokens


def _machine_busy_s() -> float:
    """CPU-seconds every process on the machine has used since boot (``/proc/stat``)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # all but idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """The CPU the deployment uses between start() and stop(): the machine's less ours."""

    def start(self) -> None:
        self._machine, self._own = _machine_busy_s(), time.process_time()

    def stop(self) -> float:
        return (_machine_busy_s() - self._machine) - (time.process_time() - self._own)


def _processes() -> dict[int, tuple[int, str, float]]:
    """Every process: pid -> (parent pid, command line, CPU-seconds of it and its reaped children)."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        cpu = sum(int(v) for v in fields[11:15]) / tick  # utime stime cutime cstime
        table[int(entry.name)] = (int(fields[1]), cmdline, cpu)
    return table


class DeploymentCpu:
    """The CPU of one deployment's processes only, so that other work on the machine (a test
    run, an editor) does not count: the ``roots`` (pid -> name) and the processes whose command
    line contains ``marker`` (a cluster's run directory: the PostgreSQL servers that pg_ctl
    daemonized), each with all its descendants. A process that exits counts through its parent's
    reaped-children time. ``stop`` returns the total and the share of each root's tree.
    """

    def __init__(self, roots: dict[int, str], marker: str | None = None) -> None:
        self.roots, self.marker = dict(roots), marker

    def _by_root(self) -> dict[str, float]:
        table = _processes()
        roots = dict(self.roots)
        if self.marker:
            for pid, (_, cmd, _) in table.items():
                if self.marker in cmd and pid not in roots:
                    after = cmd.split(self.marker, 1)[1].strip("/").split("/")[0].split()[0]
                    roots[pid] = after or cmd.split()[0]
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        seen: set[int] = set()
        busy: dict[str, float] = {}
        for root, name in sorted(roots.items()):
            todo = [root] if root in table else []
            while todo:
                pid = todo.pop()
                if pid not in seen:
                    seen.add(pid)
                    busy[name] = busy.get(name, 0.0) + table[pid][2]
                    todo.extend(children.get(pid, ()))
        return busy

    def start(self) -> None:
        self._start = self._by_root()

    def stop(self) -> tuple[float, dict[str, float]]:
        now = self._by_root()
        used = {name: now[name] - self._start.get(name, 0.0) for name in now}
        return sum(used.values()), used


def _task_count(engine, ids: dict[str, list[int]]) -> int:
    """Celery tasks the jobs took: one per backtest, one per sweep chunk."""
    with engine.connect() as conn:
        chunks = conn.execute(sa.text("SELECT count(*) FROM sweep_chunks WHERE sweep_id IN :ids")
                              .bindparams(sa.bindparam("ids", expanding=True)),
                              {"ids": ids["sweeps"] or [-1]}).scalar()  # fmt: skip
    return len(ids["backtests"]) + chunks


def single_job_latency(url: str, database_url: str, token: str, n: int = 20) -> dict:
    """Submit ``n`` backtests one at a time on an idle deployment; time each to its success."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    engine = sa.create_engine(database_url)
    query = sa.text("SELECT status FROM backtests WHERE id = :id")
    submit, final = [], []
    try:
        with engine.connect() as conn:
            for k in range(n):
                body = {**JOB, "params": {"fast": 3 + k % 30, "slow": 70 + k}}
                t0 = time.perf_counter()
                r = s.post(f"{url}/api/v1/backtests", json=body, timeout=60)
                submit.append(time.perf_counter() - t0)
                r.raise_for_status()
                job_id = r.json()["id"]
                while True:
                    status = conn.execute(query, {"id": job_id}).scalar()
                    conn.rollback()  # a fresh snapshot for the next look
                    if status in FINAL:
                        break
                    if time.perf_counter() - t0 > 30:
                        raise SystemExit(f"load: backtest {job_id} still {status} after 30 s")
                    time.sleep(0.001)
                final.append(time.perf_counter() - t0)
                if status != "succeeded":
                    raise SystemExit(f"load: the single backtest {job_id} ended {status}")
                time.sleep(0.2)
    finally:
        engine.dispose()
    return {
        "idle_submit_p50_ms": round(1000 * statistics.median(submit), 1),
        "idle_submit_to_succeeded_p50_ms": round(1000 * statistics.median(final), 1),
        "idle_submit_to_succeeded_max_ms": round(1000 * max(final), 1),
    }


def run_load(url: str, database_url: str, tokens: list[str], n_backtests: int, n_sweeps: int,
             sweep_size: int, deployment: DeploymentCpu | None = None,
             timeout: float = 1800) -> dict:  # fmt: skip
    """Submit everything from ``len(tokens)`` client threads; wait until final; account.

    The CPU per task is the ``deployment``'s own where it is known, else the machine's.
    """
    work: list[tuple[str, dict]] = [
        ("backtests", {**JOB, "params": {"fast": 2 + k % 40, "slow": 45 + k // 40}})
        for k in range(n_backtests)
    ]
    work += [("sweeps", {**JOB, "grid": sweep_grid(sweep_size)})] * n_sweeps
    # Spread the sweeps through the backtests so that both kinds are in flight together.
    step = max(1, len(work) // max(n_sweeps, 1))
    order = list(range(n_backtests))
    for i in range(n_sweeps):
        order.insert(min(i * step, len(order)), n_backtests + i)
    lock = threading.Lock()
    latencies: list[float] = []
    ids: dict[str, list[int]] = {"backtests": [], "sweeps": []}
    errors: list[str] = []
    queue = list(reversed(order))

    def client(token: str) -> None:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        while True:
            with lock:
                if not queue:
                    return
                kind, body = work[queue.pop()]
            t0 = time.perf_counter()
            try:
                r = s.post(f"{url}/api/v1/{kind}", json=body, timeout=60)
            except requests.RequestException as err:
                with lock:
                    errors.append(f"{kind}: {err}")
                continue
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                if r.status_code == 201:
                    ids[kind].append(r.json()["id"])
                else:
                    errors.append(f"{kind}: HTTP {r.status_code} {r.text[:200]}")

    cpu = CpuMeter()
    cpu.start()
    if deployment:
        deployment.start()
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    submitted_in = time.perf_counter() - started
    engine = sa.create_engine(database_url)
    try:
        done_in = _wait_final(engine, ids, started, timeout)
        cpu_s = cpu.stop()
        deployment_s, by_process = deployment.stop() if deployment else (None, {})
        accounting = _account(engine, ids)
        tasks = _task_count(engine, ids)
    finally:
        engine.dispose()
    lat = sorted(latencies)
    return {
        "clients": len(tokens),
        "submitted": {k: len(v) for k, v in ids.items()},
        "refused_or_failed_requests": len(errors),
        "errors": errors[:5],
        "submissions_per_s": round(len(lat) / submitted_in, 1),
        "submit_p50_ms": round(1000 * statistics.median(lat), 1) if lat else None,
        "submit_p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1) if lat else None,
        "submit_wall_s": round(submitted_in, 1),
        "all_final_after_s": round(done_in, 1),
        "celery_tasks": tasks,
        "machine_cpu_s": round(cpu_s, 1),
        "deployment_cpu_s": None if deployment_s is None else round(deployment_s, 1),
        "cpu_ms_per_task": round(1000 * (cpu_s if deployment_s is None else deployment_s)
                                 / max(tasks, 1), 1),
        "cpu_ms_per_task_by_process": {name: round(1000 * used / max(tasks, 1), 1) for name, used
                                       in sorted(by_process.items(), key=lambda kv: -kv[1])},
        **accounting,
    }


def _wait_final(engine, ids: dict[str, list[int]], started: float, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            open_ = sum(
                conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE id IN :ids AND status"
                                     " NOT IN :final").bindparams(sa.bindparam("ids", expanding=True),
                                                                 sa.bindparam("final", expanding=True)),
                             {"ids": v, "final": list(FINAL)}).scalar()  # fmt: skip
                for table, v in ids.items()
                if v
            )
        if not open_:
            return time.perf_counter() - started
        if time.monotonic() > deadline:
            raise SystemExit(f"load: {open_} jobs still not final after {timeout:.0f} s")
        time.sleep(0.5)


def _account(engine, ids: dict[str, list[int]]) -> dict:
    """Every submitted job final exactly once; one result per succeeded backtest; sweeps whole."""
    expanding = sa.bindparam("ids", expanding=True)
    with engine.connect() as conn:
        bt = dict(conn.execute(sa.text("SELECT status, count(*) FROM backtests WHERE id IN :ids"
                                       " GROUP BY status").bindparams(expanding),
                               {"ids": ids["backtests"] or [-1]}).all())  # fmt: skip
        missing_result = conn.execute(sa.text(
            "SELECT count(*) FROM backtests b LEFT JOIN results r ON r.fingerprint ="
            " b.result_fingerprint WHERE b.id IN :ids AND b.status = 'succeeded'"
            " AND r.id IS NULL").bindparams(expanding), {"ids": ids["backtests"] or [-1]}).scalar()  # fmt: skip
        duplicates = conn.execute(sa.text(
            "SELECT count(*) FROM (SELECT backtest_id FROM results GROUP BY backtest_id"
            " HAVING count(*) > 1) d")).scalar()  # fmt: skip
        sw = conn.execute(sa.text(
            "SELECT status, total, n_succeeded + n_failed + n_cancelled FROM sweeps"
            " WHERE id IN :ids").bindparams(expanding), {"ids": ids["sweeps"] or [-1]}).all()  # fmt: skip
    finished = sum(bt.get(s, 0) for s in FINAL)
    return {
        "backtests_by_status": bt,
        "sweeps_by_status": {s: sum(1 for r in sw if r[0] == s) for s in {r[0] for r in sw}},
        "combinations_done": sum(r[2] for r in sw),
        "combinations_submitted": sum(r[1] for r in sw),
        "duplicate_results": duplicates,
        "succeeded_without_result": missing_result,
        "accounting_ok": (
            finished == len(ids["backtests"])
            and len(sw) == len(ids["sweeps"])
            and all(r[0] in FINAL and r[1] == r[2] for r in sw)
            and duplicates == 0
            and missing_result == 0
        ),
    }


# -- set-ups ------------------------------------------------------------------------------------
def _cli(env: dict, *args: str) -> None:
    subprocess.run([str(VENV_BIN / "quantgrid"), *args], env=env, check=True, capture_output=True)


def with_cluster(args) -> tuple[dict, str]:
    """The report and what ran it: ``make cluster``'s topology for this machine, or the design's."""
    sys.path.insert(0, str(ROOT / "ops/scripts"))
    import cluster as cl

    run_dir = Path(tempfile.mkdtemp(prefix="qg-load-"))  # under /tmp: PostgreSQL runs as postgres
    run_dir.chmod(0o755)
    os.environ.setdefault("QUOTA_MAX_QUEUED_JOBS", "100000")
    topology = cl.DESIGN if args.design else cl.sized_for(cl.available_cores())
    where = f"cluster (NGINX, {topology.describe()}, PG master+replica)"
    c = cl.Cluster(run_dir, args.base_port, topology)
    try:
        info = c.up(timeout=120)
        env = c.env()
        _cli(env, "candles", "generate", "--symbol", "DEMO", "--timeframe", "1h", "--bars", "2000",
             "--start", "2020-01-01T00:00:00Z")  # fmt: skip
        tokens = _create_users(env, args.clients, "cluster")
        roots = {int(p.read_text()): p.stem for p in (run_dir / "pids").glob("*.pid")}
        report = run_load(info["public_url"], info["database_url"], tokens, args.backtests,
                          args.sweeps, args.sweep_size, DeploymentCpu(roots, str(run_dir)))  # fmt: skip
        time.sleep(2)  # let the workers go idle
        latency = single_job_latency(info["public_url"], info["database_url"], tokens[0])
        return {**report, **latency}, where
    finally:
        c.down(quiet=True)
        shutil.rmtree(run_dir, ignore_errors=True)


def with_embedded(args) -> dict:
    """``make run``'s default: SQLite, the sqla+sqlite broker, one Gunicorn and one worker."""
    var = Path(tempfile.mkdtemp(prefix="qg-load-embedded-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BROKER_URL",
                                                            "DATABASE_REPLICA_URL")}  # fmt: skip
    env.update(QUANTGRID_VAR_DIR=str(var), CANDLE_STORE="embedded", QUOTA_MAX_QUEUED_JOBS="100000",
               PYTHONPATH=str(ROOT), GUNICORN_BIND=f"127.0.0.1:{args.base_port}")  # fmt: skip
    procs = []
    try:
        subprocess.run([str(VENV_BIN / "alembic"), "upgrade", "head"], cwd=ROOT, env=env,
                       check=True, capture_output=True)  # fmt: skip
        _cli(env, "candles", "generate", "--symbol", "DEMO", "--timeframe", "1h", "--bars", "2000",
             "--start", "2020-01-01T00:00:00Z")  # fmt: skip
        tokens = _create_users(env, args.clients, "embedded")
        for cmd in ([str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "app:create_app()"],
                    [str(VENV_BIN / "celery"), "-A", "tasks.celery_app", "worker", "-n", "embedded@%h",
                     "-l", "WARNING"]):  # fmt: skip
            log = open(var / f"{Path(cmd[0]).name}.log", "wb")  # noqa: SIM115 (the child keeps it)
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))  # fmt: skip
        url = f"http://127.0.0.1:{args.base_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"load: gunicorn did not get ready; see {var}")
            time.sleep(0.3)
        database_url = f"sqlite:///{var / 'quantgrid.db'}"
        report = run_load(url, database_url, tokens, args.backtests, args.sweeps, args.sweep_size,
                          DeploymentCpu({p.pid: Path(p.args[0]).name for p in procs}))  # fmt: skip
        time.sleep(2)
        return {**report, **single_job_latency(url, database_url, tokens[0])}
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        shutil.rmtree(var, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="100 backtests, 2 sweeps of 120, 10 clients")
    parser.add_argument("--embedded", action="store_true", help="SQLite + one worker (make run)")
    parser.add_argument("--design", action="store_true",
                        help="the cluster with the design's 3x2 Gunicorn and 3x6 workers")  # fmt: skip
    parser.add_argument("--url", help="a running deployment's public URL (with --database-url)")
    parser.add_argument("--database-url", help="its master database, for the accounting")
    parser.add_argument("--tokens", help="with --url: comma-separated API tokens, one per client")
    parser.add_argument("--base-port", type=int, default=19200)
    parser.add_argument("--backtests", type=int)
    parser.add_argument("--sweeps", type=int)
    parser.add_argument("--sweep-size", type=int)
    parser.add_argument("--clients", type=int)
    args = parser.parse_args(argv)
    size = (100, 2, 120, 10) if args.short else (1000, 10, 1000, 50)
    for name, value in zip(("backtests", "sweeps", "sweep_size", "clients"), size, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.url:
        if not (args.database_url and args.tokens):
            parser.error("--url needs --database-url and --tokens")
        tokens = args.tokens.split(",")
        report = run_load(args.url, args.database_url, tokens, args.backtests, args.sweeps,
                          args.sweep_size)  # fmt: skip
        where = args.url
    elif args.embedded:
        report, where = with_embedded(args), "embedded (SQLite, sqla+sqlite broker, 1 worker)"
    else:
        report, where = with_cluster(args)
    print(f"load on {where}: {args.backtests} backtests + {args.sweeps} sweeps of "
          f"{args.sweep_size} from {args.clients} clients")  # fmt: skip
    print(json.dumps(report, indent=2, default=str))
    return 0 if report["accounting_ok"] and not report["refused_or_failed_requests"] else 1


if __name__ == "__main__":
    sys.exit(main())
