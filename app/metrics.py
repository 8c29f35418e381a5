"""Request metrics for the web app (prometheus-flask-exporter).

Under Gunicorn every worker is its own process, so the metrics go to the multiprocess directory
named by ``PROMETHEUS_MULTIPROC_DIR`` (one per service, wiped before the service starts) and
``/metrics`` aggregates all of them; ``gunicorn.conf.py``'s ``child_exit`` marks a dead worker's
files so its gauges vanish. Without that directory (tests, ``flask run``) the metrics are per
process in a registry of the app's own. NGINX does not route ``/metrics`` from the public side.
"""

from __future__ import annotations

from flask import Flask
from prometheus_client import CollectorRegistry
from prometheus_flask_exporter import PrometheusMetrics
from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

from quantgrid.config import Settings

_INFO = {"service": "quantgrid-web"}


def init_app(app: Flask, settings: Settings) -> PrometheusMetrics:
    """Attach request metrics and ``/metrics`` to ``app``; return the exporter."""
    # Group by the route's rule, never by the raw path: ids in paths must not explode cardinality.
    options = {"group_by": "url_rule", "default_labels": {}, "excluded_paths": ["/metrics"]}
    if settings.prometheus_multiproc_dir is not None:
        metrics = GunicornInternalPrometheusMetrics(app, **options)
    else:
        metrics = PrometheusMetrics(app, registry=CollectorRegistry(), **options)
    metrics.info("quantgrid_web_info", "QuantGrid web app", **_INFO)
    app.extensions["prometheus_metrics"] = metrics
    return metrics
