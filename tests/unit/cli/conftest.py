"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantgrid.candles.csvfile import write_csv
from tests.unit.engine.sim_data import random_walk


@pytest.fixture(scope="module")
def candles_csv(tmp_path_factory) -> Path:
    """A CSV file of 600 random-walk candles."""
    path = tmp_path_factory.mktemp("cli") / "candles.csv"
    write_csv(random_walk(600, 21, vol=0.02), path)
    return path
