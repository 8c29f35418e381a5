"""``quantgrid backtest`` and ``quantgrid sweep`` from the command line."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.backtest import run_backtest
from engine.simulator import SimConfig
from quantgrid.candles.csvfile import read_csv
from tests.support.cli import run_cli

QUANTGRID = Path(sys.executable).with_name("quantgrid")




def test_backtest_prints_a_stats_table(capsys, candles_csv):
    code, out, _ = run_cli(capsys, "backtest", "--csv", str(candles_csv), "--strategy", "sma_cross",
                       "-p", "fast=10", "-p", "slow=20", "--commission", "0.002", "--cash", "10000")
    assert code == 0
    expected = run_backtest(read_csv(candles_csv), "sma_cross", {"fast": 10, "slow": 20},
                            SimConfig(cash=10_000, commission=0.002))
    assert "Sharpe ratio" in out and "Max. drawdown [%]" in out
    assert f"{expected.metrics['equity_final']:,.2f}" in out


def test_backtest_json_names_final_equity_and_trades(capsys, candles_csv, tmp_path):
    trades_csv = tmp_path / "trades.csv"
    code, out, _ = run_cli(capsys, "backtest", "--csv", str(candles_csv), "--strategy", "sma_cross",
                       "-p", "fast=5", "-p", "slow=30", "--commission", "0.001", "--stop-loss",
                       "0.03", "--sizing", "equity_fraction", "--size", "0.5", "--fractional",
                       "--json", "--trades", str(trades_csv))
    assert code == 0
    d = json.loads(out)
    config = SimConfig(commission=0.001, stop_loss=0.03, sizing="equity_fraction", size=0.5,
                       fractional=True)
    expected = run_backtest(read_csv(candles_csv), "sma_cross", {"fast": 5, "slow": 30}, config)
    assert d["equity_final"] == pytest.approx(expected.metrics["equity_final"], rel=1e-12)
    assert d["trades"] == expected.metrics["trades"] > 0
    assert d["config"]["stop_loss"] == 0.03 and d["params"] == {"fast": 5, "slow": 30}
    with open(trades_csv) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(expected.trades)
    assert {r["exit_reason"] for r in rows} <= {"signal", "stop_loss", "end_of_data"}


def test_sweep_prints_the_top_sets_and_writes_the_grid(capsys, candles_csv, tmp_path):
    out_csv = tmp_path / "grid.csv"
    code, out, err = run_cli(capsys, "sweep", "--csv", str(candles_csv), "--strategy", "sma_cross",
                         "-g", "fast=5:20:5", "-g", "slow=20:40:10", "--top", "3", "--by",
                         "return_pct", "--out", str(out_csv), "--commission", "0.001")
    assert code == 0
    assert "dropped 1 invalid combination" in err  # fast=20, slow=20
    lines = out.strip().splitlines()
    assert lines[0] == "top 3 of 11 sets by return_pct:"
    assert lines[5].startswith("deflated Sharpe ratio") and "overfitting" in lines[6], lines
    with open(out_csv) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 11
    returns = [float(r["return_pct"]) for r in rows]
    assert returns == sorted(returns, reverse=True)
    assert lines[2].split()[:2] == [rows[0]["fast"], rows[0]["slow"]]


def test_sweep_json_and_the_default_grid_file(capsys, candles_csv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "sweep", "--csv", str(candles_csv), "--strategy", "ema_cross",
                         "-g", "fast=3,5", "-g", "slow=30", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["sets"] == 2 and len(d["top"]) == 2 and "equity_final" in d["top"][0]
    assert set(d["statistics"]) == {"deflated_sharpe", "pbo"}
    assert "sweep-ema_cross.csv" in err
    with open(tmp_path / "sweep-ema_cross.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(int(r["fast"]), int(r["slow"])) for r in rows] == [
        (t["fast"], t["slow"]) for t in d["top"]]


def test_a_random_search_sweep_prints_its_seed_and_draws_the_same_again(capsys, candles_csv,
                                                                        tmp_path):  # fmt: skip
    def run(*extra):
        out_csv = tmp_path / "random.csv"
        code, out, err = run_cli(capsys, "sweep", "--csv", str(candles_csv), "--strategy",
                                 "sma_cross", "-g", "fast=2:5000:1", "-g", "slow=3:5001:1",
                                 "--search", "random", "--trials", "12", "--out", str(out_csv),
                                 "--json", *extra)  # fmt: skip
        assert code == 0, err
        with open(out_csv) as fh:
            return json.loads(out), err, sorted((r["fast"], r["slow"]) for r in csv.DictReader(fh))

    first, err, drawn = run()
    seed = int(err.split("seed ")[1].split()[0])
    assert first["sets"] == 12 and len(drawn) == 12
    assert run("--seed", str(seed))[2] == drawn


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backtest", "--strategy", "nope"], "unknown strategy 'nope'"),
        (["sweep", "--strategy", "sma_cross", "-g", "fast=2:500:1", "--search", "random"],
         "--trials: give a whole number"),
        (["sweep", "--strategy", "sma_cross", "-g", "fast=2:9:1", "--trials", "3"],
         "--trials: only a random search takes this"),
        (["backtest", "--strategy", "sma_cross", "-p", "fast=abc"], "parameter 'fast'"),
        (["backtest", "--strategy", "sma_cross", "-p", "fast"], "must look like name=value"),
        (["backtest", "--strategy", "sma_cross", "--sizing", "units"], "needs a size"),
        (["backtest", "--strategy", "sma_cross", "--commission", "-1"], "commission must be"),
        (["sweep", "--strategy", "sma_cross", "-g", "fast=1:x:1"], "is not a number"),
        (["sweep", "--strategy", "sma_cross", "-g", "fast=30", "-g", "slow=20"], "invalid"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(capsys, candles_csv, args, message):
    code, _, err = run_cli(capsys, args[0], "--csv", str(candles_csv), *args[1:])
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("date,open,high,low,close\n2020-01-02,1,2,0.5,1.5\n2020-01-01,1,2,0.5,1.5\n", "line 3"),
        ("date,open,high,low,close\n2020-01-01,1,2,0.5,1.5\n2020-01-01,1,2,0.5,1.5\n", "line 3"),
        ("date,open,high,low,close\n2020-01-01,1,2,0.5,nan\n", "line 2"),
        ("date,open,high,low,close\n2020-01-01,1,0.5,2,1\n", "line 2"),
        ("date,open,high,close\n2020-01-01,1,2,1.5\n", "low"),
        ("date,open,high,low,close\n2020-01-01,1,2,0.5,1\n2020-01-02,0,2,0,1\n",
         "line 3: open 0.0 is not above zero"),
    ],
)
def test_bad_csv_is_one_line_naming_the_problem(capsys, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, _, err = run_cli(capsys, "backtest", "--csv", str(path), "--strategy", "sma_cross")
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


def test_installed_console_script_exits_nonzero_without_traceback(candles_csv):
    proc = subprocess.run(
        [str(QUANTGRID), "backtest", "--csv", str(candles_csv), "--strategy", "sma_cross",
         "-p", "fast=50", "-p", "slow=20"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "error: parameter 'fast' (50) must be less than 'slow' (20) for strategy 'sma_cross'"
    ]

