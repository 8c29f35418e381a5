"""Engine speed against vectorbt and backtesting.py, in one process, on the same synthetic series.

Run with ``.venv/bin/python bench/kernel.py`` (``make bench``). Every engine runs the SMA 10/20
crossover with 0.2 % commission, fixed 100-unit orders and long/short reversals; orders decided
at a close fill at the next open. Rates are bars per CPU second (one core), best of a few runs;
vectorbt's JIT compilation is warmed up first and excluded. The machine may be shared, so the
numbers can be noisy.

Targets (issue 2): a single backtest with metrics at least 20x vectorbt's throughput, a
100-combination sweep on 100,000 bars at least 30x vectorbt's parameter broadcast, and at least
1,000x backtesting.py. Issue 12: the same SMA crossover written in the strategy language
(engine/lang/examples/sma_cross.qgs) at least 0.5x the built-in's throughput, single and sweep.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine.backtest import run_backtest  # noqa: E402
from engine.candles import Candles  # noqa: E402
from engine.lang import compile_strategy, example  # noqa: E402
from engine.simulator import SimConfig  # noqa: E402
from engine.sweep import run_sweep  # noqa: E402

N_SINGLE = 1_000_000
N_SWEEP = 100_000
N_BTPY = 100_000
FEES = 0.002
UNITS = 100
CASH = 1e9  # never the constraint: every run trades every signal
FAST, SLOW = 10, 20
SWEEP_FAST = list(range(5, 55, 5))
SWEEP_SLOW = list(range(60, 160, 10))


def synthetic(n: int, seed: int = 42) -> Candles:
    """One-minute bars of a geometric random walk, opens gapping a little from the last close."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    prev = np.concatenate(([100.0], close[:-1]))
    open_ = prev * np.exp(rng.normal(0.0, 0.0002, n))
    wick = np.abs(rng.normal(0.0, 0.0005, (2, n)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    t = np.datetime64("2020-01-01", "ns").astype(np.int64) + np.arange(n, dtype=np.int64) * 60 * 10**9
    return Candles.from_arrays(t, open_, high, low, close, np.ones(n))


def cpu_best(fn, repeat: int):
    """Return (best CPU seconds, last result) over ``repeat`` runs."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.process_time()
        result = fn()
        best = min(best, time.process_time() - t0)
    return best, result


# ---- ours -------------------------------------------------------------------------------------

CONFIG = SimConfig(cash=CASH, commission=FEES, sizing="units", size=UNITS)


LANG = compile_strategy(example("sma_cross"), "sma_cross_in_the_language")


def ours_single(c: Candles, strategy="sma_cross"):
    return run_backtest(c, strategy, {"fast": FAST, "slow": SLOW}, CONFIG)


def ours_sweep(c: Candles, strategy="sma_cross"):
    sets = [{"fast": f, "slow": s} for f in SWEEP_FAST for s in SWEEP_SLOW]
    return run_sweep(c, strategy, sets, CONFIG)


# ---- vectorbt ---------------------------------------------------------------------------------


def _frame(c: Candles) -> pd.DataFrame:
    idx = pd.DatetimeIndex(c.time.astype("datetime64[ns]"))
    return pd.DataFrame({"Open": c.open, "Close": c.close}, index=idx)


def vbt_run(df: pd.DataFrame, fast_w, slow_w):
    """vectorbt's own idiom: MA indicators, their crossings, shifted one bar, filled at the open."""
    import vectorbt as vbt

    fast = vbt.MA.run(df["Close"], window=fast_w)
    slow = vbt.MA.run(df["Close"], window=slow_w)
    other = slow.ma.to_numpy()  # columns pair up by position (fast[k] with slow[k])
    up = fast.ma_crossed_above(other).vbt.fshift(1, fill_value=False)
    down = fast.ma_crossed_below(other).vbt.fshift(1, fill_value=False)
    pf = vbt.Portfolio.from_signals(
        df["Close"], entries=up, short_entries=down, price=df["Open"], size=UNITS, fees=FEES,
        init_cash=CASH, freq="1min", upon_opposite_entry="reverse",
    )
    return pf.final_value(), pf.total_return(), pf.sharpe_ratio()


# ---- backtesting.py ---------------------------------------------------------------------------


def btpy_run(c: Candles):
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    def sma(x, n):
        return pd.Series(x).rolling(n).mean()

    class SmaCross(Strategy):
        def init(self):
            self.a = self.I(sma, self.data.Close, FAST)
            self.b = self.I(sma, self.data.Close, SLOW)

        def next(self):
            if crossover(self.a, self.b):
                self.position.close()
                self.buy(size=UNITS)
            elif crossover(self.b, self.a):
                self.position.close()
                self.sell(size=UNITS)

    df = pd.DataFrame(
        {"Open": c.open, "High": c.high, "Low": c.low, "Close": c.close, "Volume": c.volume},
        index=pd.DatetimeIndex(c.time.astype("datetime64[ns]")),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Backtest(df, SmaCross, cash=CASH, commission=FEES, exclusive_orders=True).run()


def main() -> None:
    print(f"synthetic 1-minute random walk; SMA {FAST}/{SLOW}, fees {FEES}, {UNITS}-unit orders")
    big = synthetic(N_SINGLE)
    mid = big.slice(0, N_SWEEP)

    ours_single(big.slice(0, 1000))  # imports, entry points
    t_ours, res = cpu_best(lambda: ours_single(big), 7)
    r_ours = N_SINGLE / t_ours
    t_ours_sw, sw = cpu_best(lambda: ours_sweep(mid), 3)
    combos = len(sw.params)
    r_ours_sw = combos * N_SWEEP / t_ours_sw
    ours_single(big.slice(0, 1000), LANG)
    t_lang, res_lang = cpu_best(lambda: ours_single(big, LANG), 7)
    r_lang = N_SINGLE / t_lang
    t_lang_sw, sw_lang = cpu_best(lambda: ours_sweep(mid, LANG), 3)
    r_lang_sw = combos * N_SWEEP / t_lang_sw

    print("warming up vectorbt's JIT (excluded) ...", flush=True)
    small = _frame(big.slice(0, 2000))
    pairs_f = [f for f in SWEEP_FAST for _ in SWEEP_SLOW]
    pairs_s = [s for _ in SWEEP_FAST for s in SWEEP_SLOW]
    vbt_run(small, FAST, SLOW)
    vbt_run(small, pairs_f, pairs_s)
    df_big, df_mid = _frame(big), _frame(mid)
    t_vbt, (v_final, _, _) = cpu_best(lambda: vbt_run(df_big, FAST, SLOW), 3)
    r_vbt = N_SINGLE / t_vbt
    t_vbt_sw, _ = cpu_best(lambda: vbt_run(df_mid, pairs_f, pairs_s), 2)
    r_vbt_sw = combos * N_SWEEP / t_vbt_sw

    t_bt, bt = cpu_best(lambda: btpy_run(big.slice(0, N_BTPY)), 1)
    r_bt = N_BTPY / t_bt
    ours_100k = ours_single(big.slice(0, N_BTPY))

    print()
    print("same results:")
    print(f"  1M bars   final equity  ours {res.metrics['equity_final']:,.4f}  vectorbt {v_final:,.4f}")
    same = (np.array_equal(res.equity, res_lang.equity)
            and np.array_equal(sw.metrics, sw_lang.metrics, equal_nan=True))
    print(f"  language vs built-in: equity and sweep metrics {'identical' if same else 'DIFFER'}")
    print(f"  100k bars final equity  ours {ours_100k.metrics['equity_final']:,.4f}  "
          f"backtesting.py {bt['Equity Final [$]']:,.4f}; trades {ours_100k.metrics['trades']} "
          f"vs {bt['# Trades']}")
    print()
    print(f"{'run':<66}{'CPU s':>9}{'bars/s per core':>18}")
    rows = [
        (f"ours: single backtest + metrics, {N_SINGLE:,} bars", t_ours, r_ours),
        ("  the same written in the strategy language", t_lang, r_lang),
        (f"vectorbt: single from_signals + return/Sharpe, {N_SINGLE:,} bars", t_vbt, r_vbt),
        (f"ours: sweep {combos} sets x {N_SWEEP:,} bars + metrics", t_ours_sw, r_ours_sw),
        ("  the same written in the strategy language", t_lang_sw, r_lang_sw),
        (f"vectorbt: {combos}-column broadcast x {N_SWEEP:,} bars", t_vbt_sw, r_vbt_sw),
        (f"backtesting.py: single backtest, {N_BTPY:,} bars", t_bt, r_bt),
    ]
    for name, t, r in rows:
        print(f"{name:<66}{t:>9.3f}{r / 1e6:>16.2f}M")
    print()
    checks = [
        ("single vs vectorbt", r_ours / r_vbt, 20),
        ("sweep vs vectorbt broadcast", r_ours_sw / r_vbt_sw, 30),
        ("single vs backtesting.py", r_ours / r_bt, 1000),
        ("language vs built-in, single", r_lang / r_ours, 0.5),
        ("language vs built-in, sweep", r_lang_sw / r_ours_sw, 0.5),
    ]
    for name, ratio, target in checks:
        verdict = "meets" if ratio >= target else "MISSES"
        print(f"{name:<30}{ratio:>10.2f}x   target >= {target}x: {verdict}")


if __name__ == "__main__":
    main()
