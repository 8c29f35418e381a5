"""``quantgrid strategies check`` and ``--strategy-file`` on ``backtest`` and ``sweep``: a
strategy written in the language runs from the command line like a built-in."""

from __future__ import annotations

import csv
import json

import pytest

from engine.lang import example
from tests.support.cli import run_cli

SOURCE = example("sma_cross")


@pytest.fixture
def strategy_file(tmp_path):
    path = tmp_path / "my_cross.qgs"
    path.write_text(SOURCE)
    return path


def test_check_lists_the_parameters(capsys, strategy_file):
    code, out, _ = run_cli(capsys, "strategies", "check", str(strategy_file))
    assert code == 0 and "ok" in out and "fast: int = 10" in out and "slow: int = 20" in out


def test_check_gives_each_mistake_at_its_line_and_column(capsys, tmp_path):
    bad = tmp_path / "bad.qgs"
    bad.write_text(SOURCE.replace("sma(close, fast)", "smaa(close, fast)"))
    code, _, err = run_cli(capsys, "strategies", "check", str(bad))
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1) if "smaa" in text)
    assert code == 2 and err.startswith(f"{bad}:{line}:") and "smaa" in err


def test_a_strategy_file_backtests_as_the_built_in_it_rewrites(capsys, candles_csv, strategy_file):
    args = ["--csv", str(candles_csv), "-p", "fast=8", "-p", "slow=21", "--json"]
    code, mine, _ = run_cli(capsys, "backtest", "--strategy-file", str(strategy_file), *args)
    assert code == 0
    code, builtin, _ = run_cli(capsys, "backtest", "--strategy", "sma_cross", *args)
    assert code == 0
    mine, builtin = json.loads(mine), json.loads(builtin)
    assert mine["strategy"] == "my_cross" and mine["metrics"] == builtin["metrics"]


def test_a_strategy_file_sweeps(capsys, candles_csv, strategy_file, tmp_path):
    out = tmp_path / "grid.csv"
    code, _, _ = run_cli(capsys, "sweep", "--csv", str(candles_csv), "--strategy-file",
                     str(strategy_file), "-g", "fast=5:15:5", "-g", "slow=20,30",
                     "--out", str(out), "--json")  # fmt: skip
    assert code == 0
    with open(out) as f:
        assert len(list(csv.DictReader(f))) == 6


@pytest.mark.parametrize("choice", [[], ["--strategy", "sma_cross", "--strategy-file", "x.qgs"]])
def test_exactly_one_of_strategy_and_strategy_file(capsys, candles_csv, choice):
    code, _, err = run_cli(capsys, "backtest", "--csv", str(candles_csv), *choice)
    assert code == 2 and "--strategy-file" in err and "Traceback" not in err
