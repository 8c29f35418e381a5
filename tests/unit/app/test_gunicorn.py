"""Gunicorn's settings: a worker per core, and the app built in its master (``preload_app``).

Preloading is worth it because importing the app brings the candle stores' pandas and pyarrow,
which the workers then share instead of importing them on their first request; it is safe only
while building the app opens no database connection and starts no thread (a forked worker would
share the one, or inherit whatever lock the other held).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from app import create_app
from quantgrid.config import available_cores

ROOT = Path(__file__).resolve().parents[3]


def _python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter in the checkout (this one has imported everything)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}, **env}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True, timeout=60)  # fmt: skip
    return out.stdout.strip()


def test_gunicorn_runs_a_worker_per_core_unless_told_otherwise():
    code = "import runpy; c = runpy.run_path('gunicorn.conf.py'); print(c['workers'], c['threads'])"
    assert _python(code) == f"{available_cores()} 4"
    assert _python(code, GUNICORN_WORKERS="3", GUNICORN_THREADS="8") == "3 8"


def test_gunicorn_builds_the_app_before_forking_its_workers():
    assert _python("import runpy; print(runpy.run_path('gunicorn.conf.py')['preload_app'])") == "True"


def test_the_app_brings_pandas_and_pyarrow_with_it():
    code = "import sys, app.extensions; print(sorted({'pandas', 'pyarrow'} & set(sys.modules)))"
    assert _python(code) == "['pandas', 'pyarrow']"


def test_building_the_app_opens_no_connection_and_starts_no_thread(settings):
    threads = set(threading.enumerate())
    app = create_app({"QG_SETTINGS": settings, "TESTING": True})
    pool = app.extensions["quantgrid"]["db"].master.pool
    assert (pool.checkedin(), pool.checkedout()) == (0, 0)
    assert set(threading.enumerate()) == threads
