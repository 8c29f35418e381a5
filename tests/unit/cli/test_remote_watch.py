"""``quantgrid remote watch``: its exit code says how the job ended (scripts branch on it)."""

from __future__ import annotations

import pytest

from cli import remote
from quantgrid.client.jobs import Job
from tests.support.cli import run_cli


class _Ending:
    """A client whose job is already final in ``status`` (with ``error`` when it failed)."""

    def __init__(self, status: str, error: str | None = None) -> None:
        self.job = Job(kind="backtest", id=5, status=status, progress=1.0, error=error)

    def wait(self, job_id, kind, *, timeout=None, max_poll=None, on_update=None):
        assert (job_id, kind) == (5, "backtest")
        if on_update is not None:
            on_update(self.job)
        return self.job


@pytest.mark.parametrize(
    ("status", "error", "code", "line"),
    [("succeeded", None, 0, ""),
     ("failed", "no candles for DEMO 1h", 6, "backtest 5 failed: no candles for DEMO 1h"),
     ("failed", None, 6, "backtest 5 failed: no reason given"),
     ("cancelled", None, 7, "backtest 5 was cancelled")],
)
def test_watch_exits_with_how_the_job_ended(capsys, monkeypatch, status, error, code, line):
    monkeypatch.setattr(remote, "_client", lambda: _Ending(status, error))
    got, _, err = run_cli(capsys, "remote", "watch", "5")
    assert got == code
    assert line in err and "Traceback" not in err
