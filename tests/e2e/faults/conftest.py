"""One cluster (ops/scripts/cluster.py, base port 19000) shared by every fault test, and the
accounting they all end with: every accepted job final exactly once, no duplicate result."""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from importlib import util
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[3]
BASE = 19000
QUANTGRID = str(Path(sys.executable).parent / "quantgrid")
FINAL = {"succeeded", "failed", "cancelled"}
# Settings of every process of the cluster: no quota in the way, a short broker lease (a killed
# worker's messages come back within seconds) and short task retries (a dead InfluxDB fails its
# jobs within ~10 s instead of ~4 min).
TASK_RETRIES = 5
CLUSTER_ENV = {
    "QUOTA_MAX_QUEUED_JOBS": "100000",
    "BROKER_LEASE_SECONDS": "6",
    "TASK_MAX_RETRIES": str(TASK_RETRIES),
    "TASK_RETRY_BACKOFF_MAX": "2",
}
JOB = {
    "strategy": "sma_cross", "symbol": "DEMO", "timeframe": "1h",
    "start": "2020-01-02", "end": "2020-03-20", "params": {"fast": 5, "slow": 20},
    "settings": {"cash": 10000, "commission": 0.001},
}  # fmt: skip
# One-minute bars over ~9 months: a sweep chunk of 250 combinations takes seconds.
BIG = {**JOB, "symbol": "BIGM", "timeframe": "1m", "start": "2020-01-01", "end": "2020-10-01"}
BIG_BARS = 400_000


def load_cluster_module():
    spec = util.spec_from_file_location("qg_cluster_script", ROOT / "ops/scripts/cluster.py")
    mod = util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Faults:
    """The running cluster and what the tests do with it."""

    def __init__(self, mod, cluster) -> None:
        self.mod = mod
        self.cluster = cluster
        self.info = cluster.info()
        self.public = self.info["public_url"]
        self.engine = sa.create_engine(self.info["database_url"], pool_pre_ping=True)
        self.env = cluster.env()
        self.token = self._token()

    def _token(self) -> str:
        out = self.cli("users", "create", "faults", "--password", "a-long-enough-password-1")
        assert out.returncode == 0, out.stderr
        out = self.cli("tokens", "create", "faults", "--name", "faults")
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().split()[-1]

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([QUANTGRID, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip

    # -- the API, as a client that keeps no cookie -------------------------------------------
    def client(self) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {self.token}"
        s.cookies.set_policy(_NoCookies())
        return s

    def submit(self, client, path: str, body: dict) -> int:
        r = client.post(f"{self.public}/api/v1/{path}", json=body, timeout=30)
        assert r.status_code == 201, (r.status_code, r.text)
        return r.json()["id"]

    def backtests(self, client, n: int, base: dict | None = None, first_fast: int = 2) -> list[int]:
        """``n`` backtests that differ in their parameters (each runs; none reuses a result)."""
        base = base or JOB
        out = []
        for k in range(n):
            fast, slow = first_fast + k % 40, first_fast + 45 + k // 40
            out.append(self.submit(client, "backtests", {**base, "params": {"fast": fast, "slow": slow}}))
        return out

    def sweep(self, client, grid: dict, base: dict | None = None) -> int:
        body = {k: v for k, v in (base or JOB).items() if k != "params"}
        return self.submit(client, "sweeps", {**body, "grid": grid})

    # -- the database -------------------------------------------------------------------------
    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def statuses(self, table: str, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT id, status FROM {table} WHERE id = ANY(:ids)"),
                                {"ids": list(ids)})  # fmt: skip
            return {i: str(s).lower() for i, s in rows}

    def wait_final(self, backtests=(), sweeps=(), timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            states = {**{("b", i): s for i, s in self.statuses("backtests", list(backtests)).items()},
                      **{("s", i): s for i, s in self.statuses("sweeps", list(sweeps)).items()}}  # fmt: skip
            open_ = {k: v for k, v in states.items() if v not in FINAL}
            if len(states) == len(backtests) + len(sweeps) and not open_:
                return
            assert time.monotonic() < deadline, f"not final after {timeout} s: {list(open_.items())[:10]}"
            time.sleep(0.5)

    def account(self, backtests=(), sweeps=()) -> dict[str, int]:
        """Assert every job is final exactly once with no duplicate result; count outcomes."""
        self.wait_final(backtests, sweeps, timeout=1)
        with self.engine.connect() as conn:
            dup = conn.execute(sa.text(
                "SELECT count(*) FROM (SELECT backtest_id FROM results GROUP BY backtest_id"
                " HAVING count(*) > 1) d")).scalar()  # fmt: skip
            assert dup == 0, f"{dup} backtests have more than one result row"
            rows = conn.execute(sa.text(
                "SELECT b.id, b.status, b.result_fingerprint, r.fingerprint FROM backtests b"
                " LEFT JOIN results r ON r.fingerprint = b.result_fingerprint"
                " WHERE b.id = ANY(:ids)"), {"ids": list(backtests)}).all()  # fmt: skip
            assert len(rows) == len(backtests)
            for bid, status, want, got in rows:
                if str(status).lower() == "succeeded":
                    assert want and got == want, f"backtest {bid} succeeded without its result"
                else:
                    assert want is None, f"backtest {bid} is {status} but points at a result"
            for sid in sweeps:
                total, n_ok, n_failed, n_cancelled, status = conn.execute(sa.text(
                    "SELECT total, n_succeeded, n_failed, n_cancelled, status FROM sweeps"
                    " WHERE id = :i"), {"i": sid}).one()  # fmt: skip
                assert n_ok + n_failed + n_cancelled == total, (sid, total, n_ok, n_failed)
                chunks = conn.execute(sa.text(
                    "SELECT status, json_array_length(params::json) AS size, metrics FROM sweep_chunks"
                    " WHERE sweep_id = :i"),
                    {"i": sid}).all()  # fmt: skip
                assert sum(c.size for c in chunks) == total
                for c in chunks:
                    assert str(c.status).lower() in FINAL
                    if str(c.status).lower() == "succeeded":
                        assert all(len(v) == c.size for v in c.metrics.values())
        by_status: dict[str, int] = {}
        for s in self.statuses("backtests", list(backtests)).values():
            by_status[s] = by_status.get(s, 0) + 1
        return by_status

    # -- processes ----------------------------------------------------------------------------
    def pid(self, name: str) -> int:
        pid = self.cluster.pid_of(name)
        assert pid, f"{name} is not running; see {self.cluster.logs / name}.log"
        return pid

    def children(self, pid: int) -> list[int]:
        out = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                out += [int(c) for c in (task / "children").read_text().split()]
        return out

    def _cluster_call(self, call: str, **env: str) -> None:
        """Run ``Cluster(...).<call>`` in a child process, with ``env`` on top of the cluster's."""
        # In a child process: a restarted process must not be a Popen of this one (pytest would
        # warn when the object is collected while the process runs on, as it should).
        code = ("import sys; sys.path.insert(0, 'ops/scripts'); from pathlib import Path;"
                f"import cluster; cluster.Cluster(Path({str(self.cluster.run_dir)!r}), {BASE},"
                " cluster.DESIGN)"
                f".{call}")  # fmt: skip
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **CLUSTER_ENV, **env},
                       check=True, timeout=60)  # fmt: skip

    def restart_worker(self, i: int, **env: str) -> None:
        """Start worker ``i`` again (after a kill), with ``env`` on top of the cluster's."""
        self._cluster_call(f"start_worker({i})", **env)
        self.wait_up(f"w{i + 1}")

    def restart_web(self, i: int) -> None:
        """Start API instance ``i`` (0-based) again, as ``Cluster.start_web`` starts each."""
        mod = "sys.modules['cluster']"
        self._cluster_call(
            f"spawn('web{i + 1}', [str({mod}.VENV / 'bin/gunicorn'), '-c',"
            f" str({mod}.ROOT / 'gunicorn.conf.py'), '--error-logfile', '-', 'app:create_app()'],"
            f" cluster.Cluster(Path({str(self.cluster.run_dir)!r}), {BASE}, cluster.DESIGN).env("
            f"GUNICORN_BIND='127.0.0.1:{self.cluster.port(self.mod.API0 + i)}', GUNICORN_WORKERS='2',"
            f" PROMETHEUS_MULTIPROC_DIR=str({mod}._fresh_dir(Path({str(self.cluster.run_dir)!r})"
            f" / 'prometheus-multiproc' / 'web{i + 1}'))))"
        )  # fmt: skip
        self.wait_up(f"web{i + 1}")

    def start_influx(self) -> None:
        self._cluster_call("start_influx()")
        self.wait_up("influxd")

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Send ``sig`` to process ``name``'s group and wait until it is gone."""
        pid = self.pid(name)
        os.killpg(pid, sig)
        deadline = time.monotonic() + timeout
        while self.cluster.pid_of(name):
            assert time.monotonic() < deadline, f"{name} did not stop"
            time.sleep(0.1)

    def postgres(self, action: str, which: str = "master") -> None:
        """``action`` "stop" (fast: sessions are terminated) or "start" the master or replica."""
        root = self.cluster.run_dir / f"pg-{which}"
        if action == "stop":
            self.cluster._pg(str(self.mod.PG_BIN / "pg_ctl"), "-D", str(root / "data"), "-m", "fast",
                             "-w", "stop")  # fmt: skip
        else:
            port = self.mod.PG if which == "master" else self.mod.PG_REPLICA
            self.cluster._pg_ctl_start(root, self.cluster.port(port), f"postgres-{which}")

    def replica_sql(self, sql: str):
        engine = sa.create_engine(self.info["replica_url"])
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text(sql)).scalar()
        finally:
            engine.dispose()

    def wait_up(self, *names: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            state = self.cluster.checks()
            bad = {n: state[n] for n in names if state[n] != "up"}
            if not bad:
                return
            assert time.monotonic() < deadline, bad
            time.sleep(0.3)

    def log(self, name: str) -> str:
        return (self.cluster.logs / f"{name}.log").read_text(errors="replace")


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """A client that never keeps a cookie (an API script): no session read-your-writes."""

    def set_ok(self, cookie, request):
        return False


@pytest.fixture(scope="session")
def faults():
    mod = load_cluster_module()
    run_dir = Path(tempfile.mkdtemp(prefix="qg-faults-"))  # under /tmp: PostgreSQL runs as postgres
    run_dir.chmod(0o755)
    cluster = mod.Cluster(run_dir, BASE, mod.DESIGN)  # the topology the fault tests count on
    script = [sys.executable, str(ROOT / "ops/scripts/cluster.py")]
    up = subprocess.run([*script, "up", "--design", "--run-dir", str(run_dir), "--base-port", str(BASE),
                         "--timeout", "120"], env={**os.environ, **CLUSTER_ENV},
                        capture_output=True, text=True, timeout=240, check=False)  # fmt: skip
    if up.returncode != 0:
        cluster.down(quiet=True)
        pytest.fail(f"the cluster did not start (run `make services exporter-venv`): {up.stderr}")
    try:
        f = Faults(mod, cluster)
        for sym, tf, bars, start in (("DEMO", "1h", "2000", "2020-01-01T00:00:00Z"),
                                     ("BIGM", "1m", str(BIG_BARS), "2020-01-01T00:00:00Z")):  # fmt: skip
            gen = f.cli("candles", "generate", "--symbol", sym, "--timeframe", tf, "--bars", bars,
                        "--start", start)  # fmt: skip
            assert gen.returncode == 0, gen.stderr
        yield f
        f.engine.dispose()
    finally:
        left = cluster.down(quiet=True)
        stray = mod.leftovers(run_dir)
        for line in stray:  # an orphaned pool child of a killed worker: not ours to keep
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(line.split(":")[0]), signal.SIGKILL)
        assert not mod.leftovers(run_dir), left
        if not os.environ.get("QG_KEEP_RUN_DIR"):  # set it to read the logs of a failed run
            shutil.rmtree(run_dir, ignore_errors=True)
