"""Settings, read from environment variables in this one place.

Every default is the embedded, no-server set-up that `make run` uses: SQLite for jobs and the
broker, and the local candle store, all under ``QUANTGRID_VAR_DIR``. Point ``DATABASE_URL`` at
PostgreSQL and ``CANDLE_STORE`` at ``influxdb`` for the real deployment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


def available_cores() -> int:
    """The CPUs this process may run on (its affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    database_url: str
    database_replica_url: str | None
    broker_url: str | None
    broker_lease_seconds: float
    broker_poll_seconds: float
    # kombu's SQLAlchemy transport (``sqla+``, the embedded default's broker) has no wake-up:
    # a worker finds a new message only at its next poll, kombu's default being once a second.
    sqla_broker_poll_seconds: float
    candle_store: str
    candle_dir: Path
    influx_url: str
    influx_db: str
    influx_username: str | None
    influx_password: str | None
    influx_token: str | None
    influx_org: str | None
    influx_bucket: str | None
    candle_cache_dir: Path
    candle_cache_max_bytes: int
    # Per-user limits enforced at submission (a user row may override each one).
    quota_max_queued_jobs: int
    quota_max_sweep_size: int
    quota_max_candles_per_job: int
    # Saved strategies per user, and the characters of one strategy's source (at most the
    # language's own limit, engine.lang.LIMITS).
    quota_max_strategies: int
    quota_max_strategy_chars: int
    # Web: the session-signing key (None: one is generated and kept in var_dir/secret_key),
    # cookies marked Secure behind HTTPS, proxies in front (ProxyFix), request size limit.
    secret_key: str | None = None
    session_cookie_secure: bool = False
    proxy_count: int = 0
    max_content_length: int = 1024 * 1024
    # A candle CSV uploaded from the web (app/candles), in MiB: above it, 413 (UPLOAD_MAX_MB).
    upload_max_mb: int = 50
    # The currency results' money is shown in (ACCOUNT_CURRENCY; the engine itself is unitless).
    account_currency: str = "USD"
    # Gunicorn (gunicorn.conf.py): where it listens, the proxies whose X-Forwarded-* it trusts,
    # and its size. A worker per core: its threads overlap the waits on the database, and more
    # processes than cores only take turns on them (docs/operations.md, "Processes and cores").
    gunicorn_bind: str = "127.0.0.1:8000"
    forwarded_allow_ips: str = "127.0.0.1"
    gunicorn_workers: int = field(default_factory=available_cores)
    gunicorn_threads: int = 4
    # Celery workers (tasks/celery_app.py); pool processes: one per core, for the same reason.
    task_soft_time_limit: int = 600
    task_time_limit: int = 660
    worker_concurrency: int = field(default_factory=available_cores)
    worker_max_memory_per_child_kb: int = 1_000_000
    # Retryable task failures (candle store or database down): how many retries, with backoff
    # doubling from 1 s up to this many seconds (8 and 60: about 4 minutes before giving up).
    task_max_retries: int = 8
    task_retry_backoff_max: float = 60.0
    # A job whose worker is lost while running it (SIGKILL, the OOM killer, a host gone) runs
    # again; after this many such losses it fails instead of killing worker after worker.
    task_max_worker_lost: int = 3
    # Prometheus (docs/operations.md): the multiprocess directory of this service (None: metrics
    # are per process) and the port a worker serves /metrics on (0: none).
    prometheus_multiproc_dir: Path | None = None
    worker_metrics_port: int = 0
    # `make run` (ops/scripts/run.py): where the embedded set-up serves the web app.
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    # Celery beat (tasks/maintenance.py): how often running jobs whose worker is gone are
    # requeued, and how long a job must have run before it may be called stuck.
    requeue_interval_seconds: float = 60.0
    stuck_grace_seconds: float = 120.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (the process environment by default)."""
        env = os.environ if env is None else env
        var_dir = Path(env.get("QUANTGRID_VAR_DIR", "var")).absolute()
        return cls(
            var_dir=var_dir,
            database_url=env.get("DATABASE_URL", f"sqlite:///{var_dir / 'quantgrid.db'}"),
            database_replica_url=env.get("DATABASE_REPLICA_URL") or None,
            broker_url=env.get("BROKER_URL") or None,
            broker_lease_seconds=_float(env, "BROKER_LEASE_SECONDS", 60.0),
            broker_poll_seconds=_float(env, "BROKER_POLL_SECONDS", 2.0),
            sqla_broker_poll_seconds=_float(env, "SQLA_BROKER_POLL_SECONDS", 0.05),
            candle_store=env.get("CANDLE_STORE", "embedded"),
            candle_dir=Path(env.get("CANDLE_DIR", str(var_dir / "candles"))),
            influx_url=env.get("INFLUX_URL", "http://127.0.0.1:8086"),
            influx_db=env.get("INFLUX_DB", "quantgrid"),
            influx_username=env.get("INFLUX_USERNAME") or None,
            influx_password=env.get("INFLUX_PASSWORD") or None,
            influx_token=env.get("INFLUX_TOKEN") or None,
            influx_org=env.get("INFLUX_ORG") or None,
            influx_bucket=env.get("INFLUX_BUCKET") or None,
            candle_cache_dir=Path(env.get("CANDLE_CACHE_DIR", str(var_dir / "cache"))),
            candle_cache_max_bytes=_int(env, "CANDLE_CACHE_MAX_BYTES", 2 * 1024**3),
            quota_max_queued_jobs=_int(env, "QUOTA_MAX_QUEUED_JOBS", 100),
            quota_max_sweep_size=_int(env, "QUOTA_MAX_SWEEP_SIZE", 50_000),
            quota_max_candles_per_job=_int(env, "QUOTA_MAX_CANDLES_PER_JOB", 5_000_000),
            quota_max_strategies=_int(env, "QUOTA_MAX_STRATEGIES", 50),
            quota_max_strategy_chars=_int(env, "QUOTA_MAX_STRATEGY_CHARS", 20_000),
            upload_max_mb=_int(env, "UPLOAD_MAX_MB", 50),
            account_currency=(env.get("ACCOUNT_CURRENCY") or "USD").strip(),
            gunicorn_bind=env.get("GUNICORN_BIND") or "127.0.0.1:8000",
            forwarded_allow_ips=env.get("FORWARDED_ALLOW_IPS") or "127.0.0.1",
            gunicorn_workers=_int(env, "GUNICORN_WORKERS", available_cores()),
            gunicorn_threads=_int(env, "GUNICORN_THREADS", 4),
            task_soft_time_limit=_int(env, "TASK_SOFT_TIME_LIMIT", 600),
            task_time_limit=_int(env, "TASK_TIME_LIMIT", 660),
            worker_concurrency=_int(env, "WORKER_CONCURRENCY", available_cores()),
            worker_max_memory_per_child_kb=_int(env, "WORKER_MAX_MEMORY_PER_CHILD_KB", 1_000_000),
            task_max_retries=_int(env, "TASK_MAX_RETRIES", 8),
            task_retry_backoff_max=_float(env, "TASK_RETRY_BACKOFF_MAX", 60.0),
            task_max_worker_lost=_int(env, "TASK_MAX_WORKER_LOST", 3),
            prometheus_multiproc_dir=(
                Path(env["PROMETHEUS_MULTIPROC_DIR"]) if env.get("PROMETHEUS_MULTIPROC_DIR") else None
            ),
            worker_metrics_port=_int(env, "WORKER_METRICS_PORT", 0),
            web_host=env.get("QUANTGRID_HOST") or "127.0.0.1",
            web_port=_int(env, "QUANTGRID_PORT", 8000),
            requeue_interval_seconds=_float(env, "REQUEUE_INTERVAL_SECONDS", 60.0),
            stuck_grace_seconds=_float(env, "STUCK_GRACE_SECONDS", 120.0),
        )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value
