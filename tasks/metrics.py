"""Worker metrics for Prometheus, in multiprocess mode for Celery's prefork pool.

Every pool child writes its counters to ``PROMETHEUS_MULTIPROC_DIR`` (one directory per worker,
wiped before it starts; a child's files are marked dead when it exits). The worker's main
process serves the sum of them on ``WORKER_METRICS_PORT``, together with numbers read from the
database at scrape time: queue depth and oldest-message age (the broker's tables), sweep
progress and replica lag. The metric names are listed in docs/operations.md.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import signals
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

logger = logging.getLogger(__name__)

BACKTESTS = Counter(
    "quantgrid_backtests_total",
    "Backtest task runs by strategy and outcome (succeeded, failed, cancelled, retried, skipped)",
    ["strategy", "outcome"],
)
BACKTEST_SECONDS = Histogram(
    "quantgrid_backtest_duration_seconds",
    "Wall time of one backtest task run",
    ["strategy"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
SWEEP_CHUNKS = Counter(
    "quantgrid_sweep_chunks_total",
    "Sweep chunk task runs by strategy and outcome",
    ["strategy", "outcome"],
)
SWEEP_COMBINATIONS = Counter(
    "quantgrid_sweep_combinations_total", "Parameter combinations evaluated by sweep chunks"
)
CANDLES_LOADED = Counter(
    "quantgrid_candles_loaded_total", "Candles loaded for backtests and sweeps"
)

def record(task_name: str, outcome, started: float) -> None:
    """Count one run of a job task by its outcome (``quantgrid.jobs.run.Outcome``)."""
    from quantgrid.jobs.publisher import RUN_BACKTEST

    strategy = outcome.strategy or "unknown"
    CANDLES_LOADED.inc(outcome.candles)
    if task_name == RUN_BACKTEST:
        BACKTESTS.labels(strategy, outcome.status).inc()
        BACKTEST_SECONDS.labels(strategy).observe(time.monotonic() - started)
    else:
        SWEEP_CHUNKS.labels(strategy, outcome.status).inc()
        SWEEP_COMBINATIONS.inc(outcome.combinations)


@signals.worker_process_shutdown.connect
def _on_child_exit(pid=None, **_kw) -> None:
    from tasks import runtime

    if runtime.settings().prometheus_multiproc_dir is not None and pid:
        mark_process_dead(pid)


class DatabaseCollector:
    """Gauges read from the database at scrape time (short timeout; errors become ``up``=0)."""

    def collect(self):
        from quantgrid.db import monitoring
        from tasks import runtime
        from tasks.celery_app import QUEUE

        ok = GaugeMetricFamily(
            "quantgrid_monitoring_database_up",
            "1 if the monitoring queries could read the database",
        )
        depth = GaugeMetricFamily(
            "quantgrid_queue_depth", "Messages waiting in a broker queue", labels=["queue", "state"]
        )
        age = GaugeMetricFamily(
            "quantgrid_queue_oldest_message_age_seconds",
            "How long the oldest waiting message of a queue has waited",
            labels=["queue"],
        )
        sweep_total = GaugeMetricFamily(
            "quantgrid_sweeps_active_combinations", "Combinations of sweeps not finished yet"
        )
        sweep_done = GaugeMetricFamily(
            "quantgrid_sweeps_done_combinations", "Finished combinations of sweeps not finished yet"
        )
        sweeps_live = GaugeMetricFamily("quantgrid_sweeps_active", "Sweeps queued or running")
        lag_b = GaugeMetricFamily(
            "quantgrid_db_replica_lag_bytes",
            "WAL not yet replayed by a replica",
            labels=["replica"],
        )
        lag_s = GaugeMetricFamily(
            "quantgrid_db_replica_lag_seconds", "Replay lag of a replica", labels=["replica"]
        )
        replicas = GaugeMetricFamily("quantgrid_db_replicas_streaming", "Streaming replicas")
        try:
            # no_fork: this runs in the /metrics server's thread while the pool may fork.
            with runtime.no_fork(), runtime.database().write() as s:
                queues = monitoring.queue_stats(s, always=(QUEUE,))
                progress = monitoring.sweep_progress(s)
                lags = monitoring.replica_lag(s) if s.bind.dialect.name == "postgresql" else []
        except Exception as err:
            logger.warning("monitoring queries failed: %s", err)
            ok.add_metric([], 0)
            yield ok
            return
        ok.add_metric([], 1)
        for q in queues:
            depth.add_metric([q.queue, "ready"], q.ready)
            depth.add_metric([q.queue, "leased"], q.leased)
            age.add_metric([q.queue], q.oldest_ready_age)
        sweep_total.add_metric([], progress.total)
        sweep_done.add_metric([], progress.done)
        sweeps_live.add_metric([], progress.running)
        replicas.add_metric([], len(lags))
        for lag in lags:
            lag_b.add_metric([lag.name], lag.lag_bytes)
            lag_s.add_metric([lag.name], lag.lag_seconds)
        yield from (ok, depth, age, sweep_total, sweep_done, sweeps_live, replicas, lag_b, lag_s)


_server_lock = threading.Lock()
_server_started = False


def serve(port: int, host: str = "127.0.0.1") -> CollectorRegistry:
    """Serve the pool's summed metrics plus the database gauges on ``host:port``."""
    global _server_started
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(DatabaseCollector())
    with _server_lock:
        if not _server_started:
            start_http_server(port, host, registry=registry)
            _server_started = True
    return registry


@signals.worker_init.connect
def _on_worker_init(**_kw) -> None:
    from tasks import runtime

    settings = runtime.settings()
    if settings.worker_metrics_port:
        if settings.prometheus_multiproc_dir is None:
            raise RuntimeError(
                "WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR (an empty directory of this "
                "worker's own) so that the pool children's metrics can be summed"
            )
        serve(settings.worker_metrics_port)
        logger.info("worker metrics on 127.0.0.1:%d/metrics", settings.worker_metrics_port)
