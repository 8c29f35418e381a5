"""schemathesis against the live Gunicorn's ``/api/v1/openapi.json``.

Every operation, with generated valid and invalid input under a real bearer token: no 5xx, and
every response (status code, content type, headers, body) conforms to the published document.
Run through schemathesis's CLI (``st run``), its supported entry point for a live URL.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.web.conftest import VENV_BIN

pytestmark = pytest.mark.e2e


def test_api_conforms_to_its_openapi_document(stack):
    log = stack.logs / "schemathesis.log"
    argv = [
        str(VENV_BIN / "st"), "run", f"{stack.api}/openapi.json",
        "--url", stack.api,
        "--header", f"Authorization: Bearer {stack.bob.token}",
        "--checks", "all",
        # Excluded: (1) a request can match the schema and still be refused, since the strategy,
        # symbol and date range are checked against the registry and the candle store, which no
        # static schema expresses; (2) a backtest's result, trades and equity exist once it has
        # run, so right after POST they answer 404 "has no result (queued)" by design (the job
        # itself is readable at once). Every other check runs: 5xx, status codes, content
        # types, headers, bodies, negative data rejected, undeclared methods.
        "--exclude-checks", "positive_data_acceptance,ensure_resource_availability",
        "--max-examples", "10",
        "--seed", "20261125",
        "--generation-deterministic",
        # One worker: with two threads, hypothesis's ast.parse of lambdas races on CPython 3.11
        # ("AST constructor recursion depth mismatch") and schemathesis reports a runtime error.
        "--workers", "1",
        "--request-timeout", "30",
        "--max-time", "75",
        "--report-dir", str(stack.logs / "schemathesis"),
    ]
    with open(log, "w") as out:
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=180,
                              env={**stack.env, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"})
    text = log.read_text(errors="replace")
    assert done.returncode == 0, f"schemathesis found failures (exit {done.returncode}):\n{text[-6000:]}"
    assert "passed" in text.lower(), text[-2000:]
