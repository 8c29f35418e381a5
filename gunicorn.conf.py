"""Gunicorn settings for the web app: `gunicorn -c gunicorn.conf.py 'app:create_app()'`.

Overridable with GUNICORN_BIND / GUNICORN_WORKERS (read here by Gunicorn, not by the app).
"""

import multiprocessing
import os

from quantgrid.gunicorn_response import install

# A response's head and body leave in one write, so NGINX can retry a request whose instance
# died before answering (see quantgrid/gunicorn_response.py).
install()

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", min(multiprocessing.cpu_count() * 2 + 1, 4)))
# The app is built once, in the master, and every worker forked from it shares it and what it
# imported, pandas and pyarrow among them: each worker used to spend ~1.3 s of CPU building the
# app and importing those on its first request (0.2 s now, on a 2-core machine). Safe because
# building the app opens no connection and starts no thread (tests/unit/app/test_preload.py).
# Code changes then need a restart: SIGHUP re-forks workers from the same loaded code.
preload_app = True
worker_class = "gthread"
threads = 4
timeout = 60
graceful_timeout = 30
keepalive = 5
# Bounded request line and headers; the body limit is the app's MAX_CONTENT_LENGTH.
limit_request_line = 8190
limit_request_fields = 100
accesslog = "-"
# No query strings or headers in the access log: a token must never land in a log file.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server, worker):
    """Mark a dead worker's Prometheus multiprocess files (app/metrics.py) so its gauges go."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
