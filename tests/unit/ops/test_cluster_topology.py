"""``make cluster`` sizes its processes to the machine's cores; ``--design`` keeps the design's.

Whatever runs, NGINX and Prometheus name exactly the API instances and workers that run: an
instance Prometheus scrapes but nobody started would fire ApiInstanceDown or WorkerDown for ever.
"""

from __future__ import annotations

import re
from importlib import util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_spec = util.spec_from_file_location("qg_cluster_topology", ROOT / "ops/scripts/cluster.py")
cluster = util.module_from_spec(_spec)
_spec.loader.exec_module(cluster)


@pytest.mark.parametrize(
    ("cores", "api", "api_workers", "workers", "concurrency"),
    [(1, 2, 1, 2, 1), (2, 2, 1, 2, 1), (4, 2, 2, 2, 2), (6, 3, 2, 3, 2), (16, 3, 5, 3, 5)],
)
def test_each_tier_has_about_one_process_per_core_and_two_instances_at_least(
    cores, api, api_workers, workers, concurrency
):
    assert cluster.sized_for(cores) == cluster.Topology(api, api_workers, workers, concurrency)


def test_the_design_is_three_api_instances_of_two_and_three_workers_of_six():
    assert cluster.DESIGN._asdict() == {"api": 3, "api_workers": 2, "workers": 3, "concurrency": 6}


def _targets(conf: str, job: str) -> list[str]:
    block = conf.split(f"job_name: {job}\n", 1)[1].split("job_name:", 1)[0]
    return re.findall(r"127\.0\.0\.1:(\d+)", block)


@pytest.mark.parametrize("topology", [cluster.sized_for(2), cluster.DESIGN], ids=["2-core", "design"])
def test_prometheus_scrapes_the_instances_that_run_and_no_other(topology):
    base = 31000
    conf = cluster.prometheus_config(base, topology)
    api, workers = range(topology.api), range(topology.workers)
    assert _targets(conf, "api") == [str(base + cluster.API0 + i) for i in api]
    assert _targets(conf, "worker") == [str(base + cluster.WORKER0 + i) for i in workers]
    assert re.findall(r"worker: (w\d)", conf) == [f"w{i + 1}" for i in workers]
    assert _targets(conf, "postgres") == [str(base + cluster.PG_EXPORTER + i) for i in (0, 1)]
    assert not re.search(r"127\.0\.0\.1:18\d{3}", conf)  # every port moved to the base


def test_nginx_and_the_probes_name_the_instances_that_run(tmp_path):
    c = cluster.Cluster(tmp_path, 31000, cluster.sized_for(2))
    info = c.info()
    assert info["api"] == ["http://127.0.0.1:31001", "http://127.0.0.1:31002"]
    assert sorted(info["workers"]) == ["w1", "w2"]
    assert info["topology"] == {"api": 2, "api_workers": 1, "workers": 2, "concurrency": 1}
