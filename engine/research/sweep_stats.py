"""The Deflated Sharpe Ratio and the PBO of a sweep, from its sets' research statistics.

``engine.sweep.run_sweep`` returns, per parameter set, the count, mean and central moment sums
of its per-period returns and their per-block counts, sums and sums of squares
(``RESEARCH_COLUMNS``). Those rows are all the two statistics need, so they can be stored per
chunk on the cluster and combined when the sweep is read. Formulas: docs/semantics.md,
"Research statistics of a sweep".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.research import deflated_sharpe as _dsr
from engine.research import moments
from engine.research.pbo import Overfitting, pbo_of_block_sums
from engine.sweep import RESEARCH_BLOCKS, RESEARCH_COLUMNS

_COUNT, _MEAN, _M2, _M3, _M4 = range(5)
_BN = 5
_BS1 = _BN + RESEARCH_BLOCKS
_BS2 = _BS1 + RESEARCH_BLOCKS
# C(16, 8) = 12,870 in-sample choices cost 12,870 x 4 sums per trial; above this many trials
# adjacent blocks are merged in pairs (C(8, 4) = 70 choices): a read stays well under a second
# (100 sets x 16 blocks take about 0.4 s of CPU, 50,000 sets x 8 blocks 0.5 s).
MAX_TRIALS_16_BLOCKS = 100


@dataclass(frozen=True)
class BestDeflated:
    """The DSR of the best set, with what it was computed from."""

    result: _dsr.DeflatedSharpe
    trials: int  # N: every set evaluated
    sharpe_variance: float  # V: over the sets whose Sharpe ratio is defined
    observations: int  # T: the best set's period returns
    skewness: float
    kurtosis: float  # not excess


def sharpe_ratios(research: np.ndarray) -> np.ndarray:
    """Each set's per-observation Sharpe ratio (mean / sample standard deviation of its period
    returns); NaN with fewer than 2 returns, constant returns or a curve that overflowed."""
    r = _rows(research)
    n = r[:, _COUNT]
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(r[:, _M2] / (n - 1))
        out = np.asarray(moments.sharpe_ratio(r[:, _MEAN], sd), dtype=np.float64).reshape(-1)
    out[(n < 2) | ~np.all(np.isfinite(r[:, :5]), axis=1)] = np.nan
    return out


def deflated_best(research: np.ndarray, best: int) -> BestDeflated:
    """Deflate the Sharpe ratio of row ``best`` by the number of sets tried.

    N counts every set; V is the sample variance of the defined Sharpe ratios (a set that never
    traded has none: it was a trial, but it has no Sharpe ratio to vary).
    """
    r = _rows(research)
    if len(r) < 2:
        raise ValueError("the DSR deflates the best of several sets: this sweep evaluated "
                         f"{len(r)}")
    sharpes = sharpe_ratios(r)
    sr = sharpes[best]
    if math.isnan(sr):
        raise ValueError("the best set's Sharpe ratio is undefined (it has fewer than 2 period "
                         "returns, or they are constant: it never traded)")
    n, m2, m3, m4 = (float(r[best, k]) for k in (_COUNT, _M2, _M3, _M4))
    skew = math.sqrt(n) * m3 / m2**1.5  # (M3 / n) / (M2 / n)^1.5
    kurt = n * m4 / (m2 * m2)
    defined = sharpes[~np.isnan(sharpes)]
    variance = float(defined.var(ddof=1)) if len(defined) > 1 else 0.0
    result = _dsr.deflated_sharpe(float(sr), int(n), skew, kurt, len(r), variance)
    return BestDeflated(result, len(r), variance, int(n), skew, kurt)


def overfitting(research: np.ndarray) -> Overfitting:
    """The PBO of the sets by CSCV over the blocks of the bar range, each set's per-observation
    Sharpe ratio from its per-block sums (16 blocks, or 8 above MAX_TRIALS_16_BLOCKS sets)."""
    r = _rows(research)
    if len(r) < 2:
        raise ValueError(f"PBO compares sets: this sweep evaluated {len(r)}")
    count = r[:, _BN:_BS1]
    s1 = r[:, _BS1:_BS2]
    s2 = r[:, _BS2:]
    # A curve that overflowed has no returns to rank: no rows, so its Sharpe is NaN (last).
    bad = ~np.all(np.isfinite(r[:, _BN:]), axis=1)
    count, s1, s2 = (np.where(bad[:, None], 0.0, a) for a in (count, s1, s2))
    sums = np.stack([count, s1, s1, s2]).transpose(0, 2, 1)  # K x S x N; d = r - 0
    if len(r) > MAX_TRIALS_16_BLOCKS:
        sums = sums.reshape(4, RESEARCH_BLOCKS // 2, 2, len(r)).sum(axis=2)
    blocks = sums.shape[1]
    # Periods are the same for every set (they end at the same bars); bankruptcy only ends a
    # set's returns early. So the longest set's counts say how many periods each block holds.
    periods = sums[0].max(axis=1)
    if periods.min() < 2:
        raise ValueError(
            f"{int(periods.sum())} return periods are too few for {blocks} blocks of the range "
            "(each needs at least 2): use a longer range or shorter bars"
        )
    return pbo_of_block_sums(sums)


def _rows(research: np.ndarray) -> np.ndarray:
    r = np.asarray(research, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] != len(RESEARCH_COLUMNS):
        raise ValueError(
            f"research rows must have {len(RESEARCH_COLUMNS)} columns (engine.sweep."
            f"RESEARCH_COLUMNS), got shape {r.shape}"
        )
    return r
