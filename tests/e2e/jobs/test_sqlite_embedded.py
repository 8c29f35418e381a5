"""The embedded default: jobs in SQLite, kombu's sqla+sqlite broker, a real worker process."""

from __future__ import annotations

import os

import pytest

from quantgrid.candles.embedded import EmbeddedStore
from quantgrid.candles.generate import generate
from quantgrid.config import Settings
from quantgrid.db import backtests as bt
from quantgrid.db import results, users
from quantgrid.db.models import Status
from quantgrid.db.session import Database
from quantgrid.jobs.service import JobService
from tasks.celery_app import broker_url_for, make_celery
from tasks.publisher import CeleryPublisher
from tests.e2e.jobs.conftest import SYMBOL, Worker, spec, wait_for
from tests.support import pg

pytestmark = [
    pytest.mark.e2e,
    # kombu 5.7's sqla transport declares its models with the ``noload`` loader, which
    # SQLAlchemy 2.1 deprecates; that is kombu's to fix and harmless here.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
]


def test_backtest_runs_on_the_embedded_sqlite_setup(tmp_path):
    EmbeddedStore(tmp_path / "candles").write(
        SYMBOL, "1h", generate(24 * 70, timeframe="1h", seed=3, start="2021-01-01")
    )
    env = {
        **os.environ,
        "QUANTGRID_VAR_DIR": str(tmp_path),
        "CANDLE_STORE": "embedded",
        "CANDLE_DIR": str(tmp_path / "candles"),
    }
    env.pop("DATABASE_URL", None)
    env.pop("BROKER_URL", None)
    settings = Settings.from_env(env)
    assert settings.database_url.startswith("sqlite:///")
    assert broker_url_for(settings) == f"sqla+{settings.database_url}"
    pg.migrate(settings.database_url)
    db = Database.from_settings(settings)
    service = JobService(db, CeleryPublisher(make_celery(settings)), settings)
    assert not service.transactional
    with db.write() as s:
        owner = users.create_user(s, "solo", "long password")
    job = service.submit_backtest(owner.id, spec())
    worker = Worker(env, tmp_path, "embedded")
    try:
        wait_for(
            lambda: db.run_read(lambda s: bt.get_backtest(s, job.id).status) == Status.SUCCEEDED,
            timeout=90,
            what="the backtest on SQLite",
        )
    finally:
        worker.stop()
    with db.read() as s:
        report = results.report_for_backtest(s, job.id)
    assert report.metrics["trades"] <= len(report.trades)
    assert report.equity_value[0] == 10_000.0
    db.dispose()
