"""``bench/load.py --short`` through NGINX on the shared fault cluster: every submission is
accepted and the accounting holds (submitted = finished, no duplicate result). The figures it
prints are not asserted: the machine is shared."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.faults.conftest import ROOT

pytestmark = pytest.mark.e2e


def test_short_load_through_nginx_accounts_for_every_job(faults):
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench/load.py"), "--short", "--url", faults.public,
         "--database-url", faults.info["database_url"], "--tokens", ",".join([faults.token] * 10)],
        cwd=ROOT, env=faults.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = json.loads(out.stdout.split("\n", 1)[1])
    assert report["clients"] == 10
    assert report["submitted"] == {"backtests": 100, "sweeps": 2}, report
    assert report["refused_or_failed_requests"] == 0, report["errors"]
    assert report["backtests_by_status"] == {"succeeded": 100}, report
    assert report["sweeps_by_status"] == {"succeeded": 2}, report
    assert report["combinations_done"] == report["combinations_submitted"] == 240
    assert report["duplicate_results"] == 0 and report["succeeded_without_result"] == 0
    assert report["accounting_ok"] is True
