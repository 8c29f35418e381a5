"""A finished sweep's research statistics: the Deflated Sharpe Ratio of its best combination and
its Probability of Backtest Overfitting, as JSON-safe values for the API, the page and the CLI.

They are computed when the sweep's results are read, from the research rows its chunks stored
(``quantgrid.db.sweeps.research_rows``), not once when the sweep completes: the rows are the
state, so a retried sweep's statistics follow its chunks with nothing to keep in step, the last
chunk's transaction stays short, and a read replica serves them like any other read. The cost is
bounded (engine.research.sweep_stats merges blocks for large sweeps) and the last few results
are memoized per process.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from engine.research import sweep_stats
from quantgrid.db.models import UNFINISHED, Sweep
from quantgrid.db.sweeps import ResearchRows

_MEMO_SIZE = 32
_memo: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
_memo_lock = threading.Lock()


def unavailable(reason: str) -> dict[str, Any]:
    """Both statistics unavailable for one reason."""
    return {"deflated_sharpe": _absent(reason), "pbo": _absent(reason)}


def sweep_statistics(sweep: Sweep, rows: ResearchRows | None) -> dict[str, Any]:
    """The DSR of the sweep's best combination and its PBO, or why each is not available."""
    if sweep.status in UNFINISHED or rows is None:
        return unavailable("available once the sweep has finished")
    if rows.missing:
        return unavailable(
            f"{rows.missing:,} combinations were evaluated before QuantGrid recorded the "
            "statistics these need; run the sweep again to get them"
        )
    key = (sweep.id, sweep.finished_at, sweep.best_index, len(rows.index))
    with _memo_lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    if sweep.best_index is None:
        best = None
    else:
        where = np.flatnonzero(rows.index == sweep.best_index)
        best = int(where[0]) if len(where) else -1
    out = research_statistics(rows.matrix, best, sweep.metric)
    with _memo_lock:
        _memo[key] = out
        while len(_memo) > _MEMO_SIZE:
            _memo.popitem(last=False)
    return out


def research_statistics(matrix: np.ndarray, best: int | None, metric: str) -> dict[str, Any]:
    """Both statistics from a sweep's research rows (``matrix``, one row per combination, as
    ``engine.sweep.run_sweep`` returns them) and the row of its best combination by ``metric``
    (None: no combination has a value of it; -1: its row was not stored)."""
    return {"deflated_sharpe": _deflated(matrix, best, metric), "pbo": _overfitting(matrix)}


def _deflated(matrix: np.ndarray, best: int | None, metric: str) -> dict[str, Any]:
    if best is None:
        return _absent(f"no combination has a value of the sweep's metric ({metric})")
    if best < 0:
        return _absent("the best combination's statistics were not stored")
    try:
        d = sweep_stats.deflated_best(matrix, best)
    except ValueError as err:
        return _absent(str(err))
    return {"available": True, "sharpe": _num(d.result.sharpe),
            "sr0": _num(d.result.expected_max_sharpe), "dsr": _num(d.result.dsr),
            "trials": d.trials, "sharpe_variance": _num(d.sharpe_variance),
            "observations": d.observations, "skewness": _num(d.skewness),
            "kurtosis": _num(d.kurtosis)}


def _overfitting(matrix: np.ndarray) -> dict[str, Any]:
    try:
        o = sweep_stats.overfitting(matrix)
    except ValueError as err:
        return _absent(str(err))
    logits = o.logits
    p5, median, p95 = np.percentile(logits, [5, 50, 95])
    return {"available": True, "pbo": _num(o.pbo), "combinations": o.combinations,
            "blocks": o.blocks, "trials": len(matrix),
            "logits": {"mean": _num(logits.mean()), "median": _num(median), "p5": _num(p5),
                       "p95": _num(p95), "min": _num(logits.min()), "max": _num(logits.max())}}


def _absent(reason: str) -> dict[str, Any]:
    return {"available": False, "reason": reason}


def _num(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
