"""promtool accepts the Prometheus config and alert rules; the dashboards are well formed."""

from __future__ import annotations

import shutil
import subprocess
from importlib import util

import pytest

from tests.integration.ops.dashboards import OPS, expressions, metric_names


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: run `make services` (Debian's prometheus package)")
    return path


def test_promtool_checks_the_config_and_its_rule_files():
    proc = subprocess.run([_promtool(), "check", "config", str(OPS / "prometheus/prometheus.yml")],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_checks_the_config_a_smaller_cluster_writes(tmp_path):
    """cluster.py leaves out the API instances and workers it does not run (2 of each on 2 cores)."""
    spec = util.spec_from_file_location("qg_cluster_config", OPS / "scripts/cluster.py")
    cluster = util.module_from_spec(spec)
    spec.loader.exec_module(cluster)
    (tmp_path / "prometheus.yml").write_text(cluster.prometheus_config(31000, cluster.sized_for(2)))
    shutil.copy(OPS / "prometheus/alerts.yml", tmp_path / "alerts.yml")
    proc = subprocess.run([_promtool(), "check", "config", str(tmp_path / "prometheus.yml")],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_checks_the_alert_rules():
    proc = subprocess.run([_promtool(), "check", "rules", str(OPS / "prometheus/alerts.yml")],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "12 rules found" in proc.stdout


def test_every_dashboard_and_alert_expression_names_a_metric():
    found = expressions()
    assert {"api.json", "workers.json", "candles.json", "database.json", "alerts.yml"} <= set(found)
    for source, exprs in found.items():
        assert exprs, source
        for expr in exprs:
            assert metric_names(expr), f"{source}: no metric found in {expr!r}"


def test_metric_name_extraction():
    assert metric_names('sum by (le) (rate(a_seconds_bucket{x="y"}[5m])) / max(b_total)') == {
        "a_seconds_bucket",
        "b_total",
    }
    assert metric_names('up{job="worker"} == 0') == {"up"}
