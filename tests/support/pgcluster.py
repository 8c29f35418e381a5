"""A private PostgreSQL 15 cluster for tests that must stop, restart or replicate a server.

The shared server on 5432 is never touched. A cluster lives in a temporary directory owned by the
``postgres`` user (initdb refuses root, so commands run through ``runuser -u postgres --`` when the
tests run as root), listens on a free 127.0.0.1 port with trust authentication (replication too)
and is removed, with its replicas, by :meth:`PgCluster.cleanup` (also run at interpreter exit).

    with PgCluster.create() as primary:
        replica = primary.add_replica()
        replica.pause_replay()          # simulate replication lag
        primary.restart()               # simulate a database restart
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

BIN_DIR = Path(os.environ.get("QG_PG_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"
DB_USER = "postgres"

_CONF = """
listen_addresses = '127.0.0.1'
max_connections = 60
shared_buffers = 16MB
wal_level = replica
max_wal_senders = 5
max_replication_slots = 5
hot_standby = on
hot_standby_feedback = on
fsync = off
full_page_writes = off
log_min_messages = warning
"""

_HBA = """
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
"""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], timeout: float = 120) -> str:
    proc = subprocess.run(
        _as_owner(cmd), capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


def _make_owned_tempdir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        pw = pwd.getpwnam(OS_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    path.chmod(0o700)
    return path


class PgCluster:
    """One PostgreSQL server (a primary, or a streaming replica of one)."""

    def __init__(self, root: Path, port: int, primary: PgCluster | None = None) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.log_file = root / "server.log"
        self.port = port
        self.primary = primary
        self.replicas: list[PgCluster] = []
        self._cleaned = False
        atexit.register(self.cleanup)

    # -- creation -----------------------------------------------------------------------------
    @classmethod
    def create(cls, start: bool = True) -> PgCluster:
        """initdb a new primary in a fresh temporary directory and (by default) start it."""
        root = _make_owned_tempdir("qg-pg-")
        cluster = cls(root, free_port())
        _run(
            [
                str(BIN_DIR / "initdb"),
                "-D",
                str(cluster.data_dir),
                "-U",
                DB_USER,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )
        with open(cluster.data_dir / "postgresql.conf", "a") as conf:
            conf.write(_CONF)
        (cluster.data_dir / "pg_hba.conf").write_text(_HBA)
        if start:
            cluster.start()
        return cluster

    def add_replica(self, start: bool = True) -> PgCluster:
        """Clone this running primary with ``pg_basebackup -R`` into a streaming replica."""
        root = _make_owned_tempdir("qg-pg-replica-")
        replica = PgCluster(root, free_port(), primary=self)
        _run(
            [
                str(BIN_DIR / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                DB_USER,
                "-D",
                str(replica.data_dir),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ]
        )
        self.replicas.append(replica)
        if start:
            replica.start()
            replica.wait_until_streaming()
        return replica

    # -- life cycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> None:
        opts = f"-p {self.port} -k {self.root}"
        _run(
            [
                str(BIN_DIR / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                opts,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ],
            timeout=timeout + 10,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (clean) or ``immediate`` (like a crash)."""
        _run([str(BIN_DIR / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"])

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    @property
    def running(self) -> bool:
        if not self.data_dir.exists():
            return False
        proc = subprocess.run(
            _as_owner([str(BIN_DIR / "pg_ctl"), "-D", str(self.data_dir), "status"]),
            capture_output=True,
            check=False,
        )
        return proc.returncode == 0

    def cleanup(self) -> None:
        """Stop this server and its replicas and delete their directories (idempotent)."""
        if self._cleaned:
            return
        self._cleaned = True
        atexit.unregister(self.cleanup)
        for replica in self.replicas:
            replica.cleanup()
        if self.running:
            with contextlib.suppress(RuntimeError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    # -- access -------------------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://{DB_USER}@127.0.0.1:{self.port}/{database}"

    def scalar(self, sql: str, database: str = "postgres", **params):
        """Run one statement in autocommit mode on a short-lived connection; return its scalar."""
        engine = sa.create_engine(
            self.url(database), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
        try:
            with engine.connect() as conn:
                result = conn.execute(sa.text(sql), params)
                return result.scalar() if result.returns_rows else None
        finally:
            engine.dispose()

    def create_database(self, name: str) -> str:
        """Create database ``name`` on this primary and return its URL."""
        self.scalar(f'CREATE DATABASE "{name}"')
        return self.url(name)

    # -- replication --------------------------------------------------------------------------
    def current_lsn(self) -> str:
        return self.scalar("SELECT pg_current_wal_lsn()::text")

    def replay_lsn(self) -> str | None:
        return self.scalar("SELECT pg_last_wal_replay_lsn()::text")

    def pause_replay(self) -> None:
        """Stop applying WAL on this replica (it keeps receiving it): simulated lag."""
        self.scalar("SELECT pg_wal_replay_pause()")
        deadline = time.monotonic() + 10
        while self.scalar("SELECT pg_get_wal_replay_pause_state()") != "paused":
            if time.monotonic() > deadline:
                raise TimeoutError("the replica did not pause replay within 10 s")
            time.sleep(0.02)

    def resume_replay(self) -> None:
        self.scalar("SELECT pg_wal_replay_resume()")

    def wait_for_replay(self, lsn: str | None = None, timeout: float = 30) -> None:
        """Wait until this replica has replayed ``lsn`` (the primary's current LSN by default)."""
        assert self.primary is not None, "wait_for_replay is for replicas"
        target = lsn or self.primary.current_lsn()
        deadline = time.monotonic() + timeout
        while not self.scalar(
            "SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)", lsn=target
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replica did not replay up to {target} in {timeout} s")
            time.sleep(0.02)

    def wait_until_streaming(self, timeout: float = 30) -> None:
        assert self.primary is not None
        deadline = time.monotonic() + timeout
        while not self.primary.scalar("SELECT count(*) FROM pg_stat_replication"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replica on port {self.port} never started streaming")
            time.sleep(0.05)
        self.wait_for_replay(timeout=timeout)
