"""A task's collaborators replaced by stand-ins, for tests of its control flow alone."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tasks import jobs


@pytest.fixture
def fake(monkeypatch):
    """Jobs that start, read and fail without a database; ``use(db)`` picks the database."""
    monkeypatch.setattr(jobs, "DATABASE_DOWN_PAUSE", 0)
    failed: list[str] = []  # the reasons jobs and chunks were failed with
    job = SimpleNamespace(symbol="DEMO", timeframe="1h", start_at=None, end_at=None, owner_id=1,
                          attempts=1)
    monkeypatch.setattr(jobs.bt, "start_backtest", lambda *a, **k: True)
    monkeypatch.setattr(jobs.bt, "get_backtest", lambda *a, **k: job)
    monkeypatch.setattr(jobs.bt, "note_retry", lambda *a, **k: True)
    monkeypatch.setattr(jobs.bt, "fail_backtest", lambda _s, _id, error: failed.append(error) or True)
    sweep = SimpleNamespace(id=1, symbol="DEMO", timeframe="1h", start_at=None, end_at=None, owner_id=1)
    chunk = SimpleNamespace(sweep_id=1, params=[], attempts=1)
    monkeypatch.setattr(jobs.sweeps, "start_chunk", lambda *a, **k: chunk)
    monkeypatch.setattr(jobs.sweeps, "get_sweep", lambda *a, **k: sweep)
    monkeypatch.setattr(jobs.sweeps, "fail_chunk", lambda _s, _id, error: failed.append(error) or True)

    def use(db):
        monkeypatch.setattr(jobs.runtime, "database", lambda: db)

    return SimpleNamespace(use=use, monkeypatch=monkeypatch, job=job, chunk=chunk, failed=failed)
