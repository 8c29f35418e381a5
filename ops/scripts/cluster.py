"""The design's topology on one machine: ``python ops/scripts/cluster.py up|down|status``.

NGINX in front of Gunicorn instances (web1, ...), Celery workers (w1, ..., events on), sized to the
machine's cores by ``sized_for`` (``up --design``: the design's 3 instances of 2 Gunicorn workers
and 3 Celery workers of concurrency 6, whatever the machine), Celery beat, a PostgreSQL master and a streaming replica (private clusters,
never the shared server on 5432), influxd, Flower, the Celery exporter (in ``.venv-exporter``),
Debian's PostgreSQL and NGINX exporters, and Prometheus scraping everything but influxd (1.6
serves no Prometheus metrics; the workers count candle loads and cache hits instead).
Everything lives under one run directory (``var/cluster`` unless ``--run-dir``):
``logs/<name>.log`` per process, ``pids/<name>.pid``, ``cluster.json`` (ports and URLs) and the
data directories. Ports are ``--base-port`` (18000) plus fixed offsets, the ones in
ops/prometheus/prometheus.yml. ``down`` stops every process it started and checks none is left.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from quantgrid.config import available_cores  # noqa: E402

VENV = ROOT / ".venv"
EXPORTER_VENV = ROOT / ".venv-exporter"
PG_BIN = Path(os.environ.get("QG_PG_BIN", "/usr/lib/postgresql/15/bin"))
DEFAULT_BASE = 18000
# Offsets from the base port (prometheus.yml lists them for the default base).
(NGINX, NGINX_STATUS, API0, WORKER0, FLOWER, EXPORTER, NGINX_EXPORTER, PG_EXPORTER,
 PROMETHEUS, PG, PG_REPLICA, INFLUX, INFLUX_RPC) = (
    0, 5, 1, 11, 20, 21, 22, 23, 30, 40, 41, 50, 51
)  # fmt: skip
# The PostgreSQL exporters: the master's on PG_EXPORTER, the replica's on the next port.
PG_ROLES = (("master", PG), ("replica", PG_REPLICA))
PG_CONF = """
listen_addresses = '127.0.0.1'
max_connections = 200
shared_buffers = 64MB
wal_level = replica
max_wal_senders = 5
hot_standby = on
hot_standby_feedback = on
fsync = off
synchronous_commit = off
full_page_writes = off
# A lock wait longer than deadlock_timeout (1 s) is logged with who holds the lock, and a
# deadlock with both statements: the log then tells what a rare 503 "deadlock detected" was.
log_lock_waits = on
"""
PG_HBA = """
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
"""


class ClusterError(RuntimeError):
    pass


class Topology(NamedTuple):
    """How many processes of each kind the cluster runs."""

    api: int  # Gunicorn instances behind NGINX
    api_workers: int  # Gunicorn workers in each (each with GUNICORN_THREADS threads)
    workers: int  # Celery workers
    concurrency: int  # pool processes in each

    def describe(self) -> str:
        return f"{self.api}x{self.api_workers} Gunicorn, {self.workers}x{self.concurrency} workers"


# The design's numbers, whatever the machine (``up --design``; the cluster and fault tests).
DESIGN = Topology(api=3, api_workers=2, workers=3, concurrency=6)
# prometheus.yml lists three API instances and three workers, as the port offsets allow.
MAX_INSTANCES = 3


def sized_for(cores: int) -> Topology:
    """About one busy process per core in each tier (docs/operations.md, "Processes and cores").

    Two API instances and two workers, so that one can die or restart while the other serves
    (three from 6 cores on), each with ``cores // instances`` processes: on 2 cores, 2x1 Gunicorn
    workers of 4 threads and 2x1 pool processes.
    """
    n = 2 if cores < 6 else MAX_INSTANCES
    per = max(1, cores // n)
    return Topology(api=n, api_workers=per, workers=n, concurrency=per)


def prometheus_config(base: int, topology: Topology) -> str:
    """ops/prometheus/prometheus.yml for one cluster: the API instances and workers it runs (the
    file lists the design's three of each), on ports shifted from 18000 to ``base``."""
    unused = {DEFAULT_BASE + API0 + i for i in range(topology.api, MAX_INSTANCES)}
    unused |= {DEFAULT_BASE + WORKER0 + i for i in range(topology.workers, MAX_INSTANCES)}
    kept, dropped = [], False
    for line in (ROOT / "ops/prometheus/prometheus.yml").read_text().splitlines(keepends=True):
        target = re.fullmatch(r'\s*- targets: \["127\.0\.0\.1:(\d+)"\]\s*', line)
        if target and int(target.group(1)) in unused:
            dropped = True  # and its labels line, if it has one
            continue
        if not (dropped and line.lstrip().startswith("labels:")):
            kept.append(line)
        dropped = False
    conf = re.sub(
        r"127\.0\.0\.1:(1\d{4})",
        lambda m: f"127.0.0.1:{int(m.group(1)) - DEFAULT_BASE + base}",
        "".join(kept),
    )
    return conf.replace("scrape_interval: 5s", "scrape_interval: 2s")


class Cluster:
    def __init__(self, run_dir: Path, base: int, topology: Topology) -> None:
        self.run_dir = run_dir.absolute()
        self.base = base
        self.topology = topology
        self.logs = self.run_dir / "logs"
        self.pids = self.run_dir / "pids"

    # -- ports and environment ------------------------------------------------------------------
    def port(self, offset: int) -> int:
        return self.base + offset

    @property
    def database_url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port(PG)}/quantgrid"

    @property
    def replica_url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port(PG_REPLICA)}/quantgrid"

    @property
    def broker_url(self) -> str:
        return "qgpg+" + self.database_url

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMETHEUS_", "INFLUX"))}
        env.update(
            QUANTGRID_VAR_DIR=str(self.run_dir / "var"),
            DATABASE_URL=self.database_url,
            DATABASE_REPLICA_URL=self.replica_url,
            CANDLE_STORE="influxdb",
            INFLUX_URL=f"http://127.0.0.1:{self.port(INFLUX)}",
            BROKER_POLL_SECONDS="1",
            PROXY_COUNT="1",
            PYTHONPATH=str(ROOT),
            PATH=f"{VENV / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
        )
        env.update(extra)
        return env

    def info(self) -> dict:
        return {
            "run_dir": str(self.run_dir),
            "base_port": self.base,
            "topology": self.topology._asdict(),
            "public_url": f"http://127.0.0.1:{self.port(NGINX)}",
            "api": [f"http://127.0.0.1:{self.port(API0 + i)}" for i in range(self.topology.api)],
            "workers": {
                f"w{i + 1}": f"http://127.0.0.1:{self.port(WORKER0 + i)}/metrics"
                for i in range(self.topology.workers)
            },
            "flower": f"http://127.0.0.1:{self.port(FLOWER)}",
            "exporter": f"http://127.0.0.1:{self.port(EXPORTER)}/metrics",
            "postgres_exporters": {
                role: f"http://127.0.0.1:{self.port(PG_EXPORTER + i)}/metrics"
                for i, (role, _) in enumerate(PG_ROLES)
            },
            "nginx_exporter": f"http://127.0.0.1:{self.port(NGINX_EXPORTER)}/metrics",
            "prometheus": f"http://127.0.0.1:{self.port(PROMETHEUS)}",
            "database_url": self.database_url,
            "replica_url": self.replica_url,
            "broker_url": self.broker_url,
            "influx_url": f"http://127.0.0.1:{self.port(INFLUX)}",
        }

    # -- processes --------------------------------------------------------------------------------
    def spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> int:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env or self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: down kills the whole group
        )
        log.close()
        (self.pids / f"{name}.pid").write_text(str(proc.pid))
        return proc.pid

    def pid_of(self, name: str) -> int | None:
        try:
            pid = int((self.pids / f"{name}.pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    # -- PostgreSQL -------------------------------------------------------------------------------
    def _pg(self, *cmd: str) -> None:
        full = ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)
        proc = subprocess.run(full, capture_output=True, text=True, check=False, timeout=120)
        if proc.returncode != 0:
            raise ClusterError(f"{' '.join(cmd)} failed: {proc.stdout}{proc.stderr}")

    def _pg_dir(self, name: str) -> Path:
        path = self.run_dir / name
        path.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)
        return path

    def start_postgres(self) -> None:
        master, replica = self._pg_dir("pg-master"), self._pg_dir("pg-replica")
        if not (master / "data").exists():
            self._pg(str(PG_BIN / "initdb"), "-D", str(master / "data"), "-U", "postgres",
                     "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")  # fmt: skip
            with open(master / "data" / "postgresql.conf", "a") as conf:
                conf.write(PG_CONF)
            (master / "data" / "pg_hba.conf").write_text(PG_HBA)
        self._pg_ctl_start(master, self.port(PG), "postgres-master")
        self._psql(self.port(PG), "SELECT 1 FROM pg_database WHERE datname='quantgrid'") or (
            self._psql(self.port(PG), "CREATE DATABASE quantgrid")
        )
        if not (replica / "data").exists():
            self._pg(str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port(PG)),
                     "-U", "postgres", "-D", str(replica / "data"), "-R", "-X", "stream",
                     "-c", "fast", "--no-sync")  # fmt: skip
        self._pg_ctl_start(replica, self.port(PG_REPLICA), "postgres-replica")

    def _pg_ctl_start(self, root: Path, port: int, name: str) -> None:
        if (root / "data" / "postmaster.pid").exists() and _port_open(port):
            return
        log = self.logs / f"{name}.log"
        log.touch()
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(log, pw.pw_uid, pw.pw_gid)
        self._pg(str(PG_BIN / "pg_ctl"), "-D", str(root / "data"), "-l", str(log),
                 "-o", f"-p {port} -k {root}", "-w", "-t", "60", "start")  # fmt: skip

    def _psql(self, port: int, sql: str) -> str:
        full = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tAc", sql]
        return subprocess.run(full, capture_output=True, text=True, check=True).stdout.strip()

    def stop_postgres(self) -> None:
        for name in ("pg-replica", "pg-master"):
            data = self.run_dir / name / "data"
            if (data / "postmaster.pid").exists():
                try:
                    self._pg(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
                except ClusterError as err:
                    print(f"cluster: {err}", file=sys.stderr)

    # -- the rest ---------------------------------------------------------------------------------
    def start_influx(self) -> None:
        root = self.run_dir / "influxdb"
        root.mkdir(exist_ok=True)
        conf = root / "influxdb.conf"
        conf.write_text(
            (ROOT / "ops/influxdb/influxdb.conf")
            .read_text()
            .replace("@ROOT@", str(root))
            .replace("@HTTP_BIND@", f"127.0.0.1:{self.port(INFLUX)}")
            .replace("@RPC_BIND@", f"127.0.0.1:{self.port(INFLUX_RPC)}")
        )
        self.spawn("influxd", [_need("influxd"), "-config", str(conf)])

    def migrate(self) -> None:
        """The Procfile's ``release`` step: alembic upgrade head on the master."""
        proc = subprocess.run(
            [str(VENV / "bin/alembic"), "upgrade", "head"],
            cwd=ROOT, env=self.env(), capture_output=True, text=True, check=False,
        )  # fmt: skip
        (self.logs / "release.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise ClusterError(f"migrations failed: {proc.stderr[-2000:]}")

    def start_web(self) -> None:
        for i in range(self.topology.api):
            name = f"web{i + 1}"
            mp = _fresh_dir(self.run_dir / "prometheus-multiproc" / name)
            env = self.env(
                GUNICORN_BIND=f"127.0.0.1:{self.port(API0 + i)}",
                GUNICORN_WORKERS=str(self.topology.api_workers),
                PROMETHEUS_MULTIPROC_DIR=str(mp),
            )
            self.spawn(name, [str(VENV / "bin/gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"),
                              "--error-logfile", "-", "app:create_app()"], env)  # fmt: skip

    def start_workers(self) -> None:
        for i in range(self.topology.workers):
            self.start_worker(i)

    def start_worker(self, i: int) -> str:
        name = f"w{i + 1}"
        mp = _fresh_dir(self.run_dir / "prometheus-multiproc" / name)
        env = self.env(
            PROMETHEUS_MULTIPROC_DIR=str(mp),
            WORKER_METRICS_PORT=str(self.port(WORKER0 + i)),
            WORKER_CONCURRENCY=str(self.topology.concurrency),
        )
        self.spawn(name, [str(VENV / "bin/celery"), "-A", "tasks.celery_app", "worker",
                          "-n", f"{name}@%h", "-E", "-l", "INFO"], env)  # fmt: skip
        return name

    def rolling_restart(self, timeout: float = 120) -> None:
        """One worker at a time: drain it, warm shutdown (SIGTERM), start it, wait for its ping."""
        quantgrid = str(VENV / "bin/quantgrid")
        for i in range(self.topology.workers):
            name = f"w{i + 1}"
            node = f"{name}@{socket.gethostname()}"
            pid = self.pid_of(name)
            if pid is None:
                raise ClusterError(f"{name} is not running")
            drain = subprocess.run([quantgrid, "ops", "drain", node, "--wait", str(timeout)],
                                   env=self.env(), check=False)  # fmt: skip
            if drain.returncode != 0:
                raise ClusterError(f"could not drain {node}")
            os.kill(pid, signal.SIGTERM)  # warm shutdown: finish what runs, then exit
            deadline = time.monotonic() + timeout
            while _alive(pid):
                if time.monotonic() > deadline:
                    raise ClusterError(f"{name} did not exit within {timeout:.0f} s of SIGTERM")
                time.sleep(0.2)
            _signal_group(pid, signal.SIGKILL)  # nothing of the old group may linger
            self.start_worker(i)
            while subprocess.run([quantgrid, "ops", "status", "--timeout", "1"], env=self.env(),
                                 capture_output=True, text=True, check=False).stdout.count(node) == 0:  # fmt: skip
                if time.monotonic() > deadline or not self.pid_of(name):
                    raise ClusterError(f"{name} did not come back; see {self.logs / name}.log")
                time.sleep(0.5)
            print(f"cluster: restarted {node}", flush=True)

    def start_beat(self) -> None:
        """Celery beat: the periodic requeue of jobs whose worker is gone (tasks/maintenance.py)."""
        schedule = self.run_dir / "var" / "celerybeat-schedule"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        self.spawn("beat", [str(VENV / "bin/celery"), "-A", "tasks.celery_app", "beat",
                            "-s", str(schedule), "-l", "INFO"])  # fmt: skip

    def start_flower(self) -> None:
        env = self.env(FLOWER_UNAUTHENTICATED_API="true")
        self.spawn("flower", [str(VENV / "bin/celery"), "-A", "tasks.celery_app", "flower",
                              "--address=127.0.0.1", f"--port={self.port(FLOWER)}",
                              "--persistent=False"], env)  # fmt: skip

    def start_exporter(self) -> None:
        if not (EXPORTER_VENV / "bin/python").exists():
            raise ClusterError("the exporter's virtualenv is missing: run `make cluster`")
        # Only the project's source on the path (for the qgpg transport): the exporter's own
        # top-level package is called ``src`` and must not meet the main venv's packages.
        env = self.env(PYTHONPATH=str(ROOT / "ops/exporter"), QG_ROOT=str(ROOT))
        env["PATH"] = f"{EXPORTER_VENV / 'bin'}:/usr/bin:/bin"
        self.spawn("exporter", [str(EXPORTER_VENV / "bin/python"), "-m", "qg_celery_exporter",
                                "--broker-url", self.broker_url, "--host", "127.0.0.1",
                                "--port", str(self.port(EXPORTER))], env)  # fmt: skip

    def start_postgres_exporters(self) -> None:
        """Debian's prometheus-postgres-exporter, one per server (its pg_up, pg_stat_database_*)."""
        binary = _need("prometheus-postgres-exporter")
        for i, (role, pg_port) in enumerate(PG_ROLES):
            dsn = f"postgresql://postgres@127.0.0.1:{self.port(pg_port)}/quantgrid?sslmode=disable"
            self.spawn(f"postgres-exporter-{role}", [
                binary, f"--web.listen-address=127.0.0.1:{self.port(PG_EXPORTER + i)}",
            ], self.env(DATA_SOURCE_NAME=dsn))  # fmt: skip

    def start_nginx_exporter(self) -> None:
        """Debian's prometheus-nginx-exporter over NGINX's private stub_status page."""
        self.spawn("nginx-exporter", [
            _need("prometheus-nginx-exporter"),
            "-nginx.scrape-uri", f"http://127.0.0.1:{self.port(NGINX_STATUS)}/stub_status",
            "-nginx.retries", "20", "-nginx.retry-interval", "500ms",
            "-web.listen-address", f"127.0.0.1:{self.port(NGINX_EXPORTER)}",
        ])  # fmt: skip

    def start_prometheus(self) -> None:
        root = self.run_dir / "prometheus"
        root.mkdir(exist_ok=True)
        (root / "prometheus.yml").write_text(prometheus_config(self.base, self.topology))
        shutil.copy(ROOT / "ops/prometheus/alerts.yml", root / "alerts.yml")
        self.spawn("prometheus", [_need("prometheus"), f"--config.file={root / 'prometheus.yml'}",
                                  f"--storage.tsdb.path={root / 'data'}",
                                  f"--web.listen-address=127.0.0.1:{self.port(PROMETHEUS)}"])  # fmt: skip

    def start_nginx(self) -> None:
        root = self.run_dir / "nginx"
        root.mkdir(exist_ok=True)
        upstreams = "\n".join(
            f"        server 127.0.0.1:{self.port(API0 + i)} max_fails=2 fail_timeout=10s;"
            for i in range(self.topology.api)
        )
        conf = (
            (ROOT / "ops/nginx/nginx.conf").read_text()
            .replace("@RUN_DIR@", str(self.run_dir))
            .replace("@LISTEN@", f"127.0.0.1:{self.port(NGINX)}")
            .replace("@STATUS_LISTEN@", f"127.0.0.1:{self.port(NGINX_STATUS)}")
            .replace("@UPSTREAMS@", upstreams)
        )  # fmt: skip
        (root / "nginx.conf").write_text(conf)
        nginx = _need("nginx", "/usr/sbin")
        check = subprocess.run([nginx, "-t", "-c", str(root / "nginx.conf"), "-p", str(root)],
                               capture_output=True, text=True, check=False)  # fmt: skip
        if check.returncode != 0:
            raise ClusterError(f"nginx -t: {check.stderr}")
        self.spawn("nginx", [nginx, "-c", str(root / "nginx.conf"), "-p", str(root)])

    # -- commands ---------------------------------------------------------------------------------
    def up(self, timeout: float = 90) -> dict:
        if self.running():
            raise ClusterError(f"a cluster already runs from {self.run_dir}: `make cluster-down`")
        for d in (self.run_dir, self.logs, self.pids):
            d.mkdir(parents=True, exist_ok=True)
        self.run_dir.chmod(0o755)
        started = time.monotonic()
        try:
            self.start_postgres()
            self.start_influx()
            self.migrate()
            deadline = time.monotonic() + timeout
            self.start_web()
            self.start_workers()
            self.start_beat()
            self.start_flower()
            self.start_exporter()
            self.start_postgres_exporters()
            self.start_prometheus()
            # Gunicorn listens only once it has built the app (preload_app), and NGINX takes an
            # instance that refused a connection out for 10 s: it starts once they answer.
            web = [f"web{i + 1}" for i in range(self.topology.api)]
            self.wait_ready(deadline - time.monotonic(), web)
            self.start_nginx()
            self.start_nginx_exporter()
            (self.run_dir / "cluster.json").write_text(json.dumps(self.info(), indent=2))
            self.wait_ready(deadline - time.monotonic())
        except BaseException:
            self.down(quiet=True)
            raise
        print(f"cluster: up in {time.monotonic() - started:.1f} s ({self.topology.describe()});"
              f" {self.run_dir / 'cluster.json'}")  # fmt: skip
        return self.info()

    def checks(self) -> dict[str, str]:
        """What answers: name → "up" or the reason it is not."""
        info = self.info()
        probes = {f"web{i + 1}": f"{url}/healthz" for i, url in enumerate(info["api"])}
        probes.update(info["workers"])
        probes.update(
            nginx=f"{info['public_url']}/readyz",
            flower=f"{info['flower']}/healthcheck",
            exporter=info["exporter"],
            prometheus=f"{info['prometheus']}/-/ready",
            influxd=f"{info['influx_url']}/ping",
        )
        probes["nginx-exporter"] = info["nginx_exporter"]
        for role, url in info["postgres_exporters"].items():
            probes[f"postgres-exporter-{role}"] = url
        out = {name: _probe(url) for name, url in probes.items()}
        out["beat"] = "up" if self.pid_of("beat") else "not running"
        for name, port in (("postgres-master", PG), ("postgres-replica", PG_REPLICA)):
            out[name] = "up" if _port_open(self.port(port)) else f"nothing on {self.port(port)}"
        return out

    def wait_ready(self, timeout: float, names: list[str] | None = None) -> None:
        """Wait until ``names`` (default: every part) answer; fail when one exits or on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.checks()
            bad = {k: v for k, v in state.items() if v != "up" and (names is None or k in names)}
            if not bad:
                return
            dead = [n for n in bad if (self.pids / f"{n}.pid").exists() and not self.pid_of(n)]
            if dead or time.monotonic() > deadline:
                raise ClusterError(
                    f"not ready: {bad}" + (f"; exited: {dead}" if dead else "")
                    + f"; see {self.logs}"
                )  # fmt: skip
            time.sleep(0.3)

    def running(self) -> list[str]:
        names = [p.stem for p in self.pids.glob("*.pid")]
        return [n for n in names if self.pid_of(n)]

    def down(self, quiet: bool = False, timeout: float = 30) -> list[str]:
        """Stop every process (warm shutdown first, SIGKILL after ``timeout``); return leftovers."""
        names = self.running()
        for name in names:
            _signal_group(self.pid_of(name), signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(self.pid_of(n) for n in names):
            time.sleep(0.2)
        for name in names:
            pid = self.pid_of(name)
            if pid:
                print(f"cluster: {name} ignored SIGTERM; killing it", file=sys.stderr)
                _signal_group(pid, signal.SIGKILL)
        self.stop_postgres()
        for p in self.pids.glob("*.pid") if self.pids.exists() else ():
            p.unlink()
        left = leftovers(self.run_dir)
        if not quiet:
            print(f"cluster: stopped {len(names)} processes and PostgreSQL"
                  + (f"; STILL RUNNING: {left}" if left else ""))  # fmt: skip
        return left


def leftovers(run_dir: Path) -> list[str]:
    """Processes whose command line or working files mention ``run_dir`` (should be none)."""
    out = []
    needle = str(run_dir.absolute())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if needle in cmdline or needle.encode() in environ:
            out.append(f"{proc.name}: {cmdline[:120]}")
    return out


def _fresh_dir(path: Path) -> Path:
    """Wipe and recreate a Prometheus multiprocess directory (stale files would add up)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _need(binary: str, extra: str = "") -> str:
    path = shutil.which(binary) or shutil.which(binary, path=extra or None)
    if not path:
        raise ClusterError(f"{binary} is not installed: run `make services`")
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _signal_group(pid: int | None, sig: int) -> None:
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _probe(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return "up" if resp.status < 300 else f"HTTP {resp.status}"
    except Exception as err:  # noqa: BLE001 (any failure means not up; say which)
        return f"down ({type(err).__name__}: {str(err)[:80]})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "rolling-restart"])
    parser.add_argument("--run-dir", type=Path, default=ROOT / "var" / "cluster")
    parser.add_argument("--base-port", type=int, default=DEFAULT_BASE)
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument("--design", action="store_true",
                        help="up: the design's 3x2 Gunicorn and 3x6 workers, not sized to the cores")  # fmt: skip
    args = parser.parse_args(argv)
    topology = DESIGN if args.design else sized_for(available_cores())
    cluster = Cluster(args.run_dir, args.base_port, topology)
    info_file = args.run_dir / "cluster.json"
    if args.command != "up" and info_file.exists():  # the ports and processes it was started with
        info = json.loads(info_file.read_text())
        # A cluster.json written before the topology was recorded is the design's.
        recorded = Topology(**info.get("topology", DESIGN._asdict()))
        cluster = Cluster(args.run_dir, info["base_port"], recorded)
    try:
        if args.command == "up":
            cluster.up(args.timeout)
        elif args.command == "rolling-restart":
            cluster.rolling_restart()
        elif args.command == "down":
            return 1 if cluster.down() else 0
        else:
            state = cluster.checks()
            for name, what in sorted(state.items()):
                print(f"{name:<18}{what}")
            down = [n for n, v in state.items() if v != "up"]
            print(f"{len(state) - len(down)}/{len(state)} up")
            return 1 if down else 0
    except ClusterError as err:
        print(f"cluster: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
