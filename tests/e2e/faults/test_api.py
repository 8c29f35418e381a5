"""What makes NGINX's retry of a POST to a dead API instance safe: the same X-Request-Id is the
same job on every instance.

The SIGKILL-under-load test that stood here is out until Gunicorn writes a response's headers
and body in one write: a kill between its two writes leaves NGINX holding headers it has already
forwarded, which it cannot retry (see the note on issue 8 and docs/operations.md)."""

from __future__ import annotations

import pytest

from tests.e2e.faults.conftest import JOB

pytestmark = pytest.mark.e2e


def test_the_same_request_id_is_the_same_job_on_every_instance(faults):
    client = faults.client()
    body = {**JOB, "params": {"fast": 8, "slow": 900}}
    urls = faults.info["api"]  # NGINX sets its own X-Request-Id on the way in
    ids = {client.post(f"{url}/api/v1/backtests", json=body, timeout=30,
                       headers={"X-Request-Id": "a" * 32}).json()["id"]
           for url in urls}  # fmt: skip
    assert len(ids) == 1, ids
    faults.wait_final(list(ids), timeout=90)
    assert faults.account(list(ids)) == {"succeeded": 1}
