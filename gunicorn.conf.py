"""Gunicorn settings for the web app: `gunicorn -c gunicorn.conf.py 'app:create_app()'`.

Overridable with GUNICORN_BIND, GUNICORN_WORKERS (default: one per core), GUNICORN_THREADS (4)
and FORWARDED_ALLOW_IPS, read by ``quantgrid.config.Settings`` like every other setting.
"""

from app.gunicorn_response import install
from quantgrid.config import Settings

# A response's head and body leave in one write, so NGINX can retry a request whose instance
# died before answering (see app/gunicorn_response.py).
install()
_settings = Settings.from_env()

bind = _settings.gunicorn_bind
workers = _settings.gunicorn_workers
threads = _settings.gunicorn_threads
# The app is built once, in the master, and every worker forked from it shares it and what it
# imported, pandas and pyarrow among them: each worker used to spend ~1.3 s of CPU building the
# app and importing those on its first request (0.2 s now, on a 2-core machine). Safe because
# building the app opens no connection and starts no thread (tests/unit/app/test_gunicorn.py).
# Code changes then need a restart: SIGHUP re-forks workers from the same loaded code.
preload_app = True
worker_class = "gthread"
timeout = 60
graceful_timeout = 30
keepalive = 5
# Bounded request line and headers; the body limit is the app's MAX_CONTENT_LENGTH.
limit_request_line = 8190
limit_request_fields = 100
accesslog = "-"
# No query strings or headers in the access log: a token must never land in a log file.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'
forwarded_allow_ips = _settings.forwarded_allow_ips


def child_exit(server, worker):
    """Mark a dead worker's Prometheus multiprocess files (app/metrics.py) so its gauges go."""
    if _settings.prometheus_multiproc_dir is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
