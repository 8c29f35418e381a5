"""Probability of Backtest Overfitting by combinatorially symmetric cross-validation (CSCV).

Bailey, Borwein, Lopez de Prado and Zhu (2016). The rows of a T x N performance matrix (one
column per trial, one row per observation, e.g. per-bar returns) are cut into S blocks. Each way
of choosing S/2 blocks as in-sample, the other S/2 being out-of-sample, selects the trial that
performs best in-sample and asks where it ranks out-of-sample. The PBO is the share of the
C(S, S/2) choices in which the in-sample winner ranks at or below the out-of-sample median.
Formulas: docs/semantics.md, "Research statistics".

A choice concatenates S/2 blocks, and C(16, 8) = 12,870 choices would read the matrix thousands
of times over. Metrics are therefore computed from sums: each block's sums are taken once, a
choice's sums are the sum of its blocks' sums (one matrix product), and the metric is a function
of those sums. The Sharpe ratio, mean return, log growth and downside deviation are all such
metrics; a maximum drawdown is not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from engine.research import moments

# C(18, 9) = 48,620 choices is the most we evaluate; C(20, 10) = 184,756 would take minutes.
MAX_COMBINATIONS = 50_000
# Sums held per vectorised step over choices (8 bytes each).
_CHUNK_VALUES = 8_000_000


@dataclass(frozen=True)
class SummedMetric:
    """A performance metric of concatenated rows that only needs sums over those rows.

    ``terms`` maps the T x N matrix to K x T x N per-row terms; ``value`` maps their sums over
    any set of rows, shape (..., K, N), to one performance per trial, shape (..., N).
    """

    terms: Callable[[np.ndarray], np.ndarray]
    value: Callable[[np.ndarray], np.ndarray]


def _sharpe_terms(returns: np.ndarray) -> np.ndarray:
    # Deviations from each trial's overall mean keep the variance free of the cancellation
    # of sum(r^2) - sum(r)^2 / n; the variance of any subset is unchanged by the shift.
    d = returns - returns.mean(axis=0)
    return np.stack([np.ones_like(returns), returns, d, d * d])


def _sharpe_value(sums: np.ndarray) -> np.ndarray:
    n, s, sd1, sd2 = (sums[..., k, :] for k in range(4))
    var = np.maximum(sd2 - sd1 * sd1 / n, 0.0) / (n - 1)
    return moments.sharpe_ratio(s / n, np.sqrt(var))


SHARPE = SummedMetric(_sharpe_terms, _sharpe_value)
"""Per-observation Sharpe ratio (mean / sample standard deviation) of the concatenated rows."""


@dataclass(frozen=True)
class Overfitting:
    """The PBO and, per in-sample/out-of-sample split, the logit and the winner's performance."""

    pbo: float
    blocks: int  # S
    logits: np.ndarray  # lambda = ln(w / (1 - w)) of the in-sample winner's out-of-sample rank w
    combinations: int
    in_sample_best: np.ndarray  # the in-sample winner's in-sample performance
    out_of_sample: np.ndarray  # the same trial's out-of-sample performance


def pbo(performance: np.ndarray, blocks: int = 16, metric: SummedMetric = SHARPE) -> Overfitting:
    """Return the probability that the in-sample best trial is overfit (CSCV with ``blocks`` blocks).

    The first ``T mod blocks`` rows (the oldest) are dropped so that the blocks are equal, as the
    method requires. A metric that is NaN for a trial (e.g. the Sharpe ratio of a trial that never
    traded) ranks that trial below every other.
    """
    matrix = _validated(performance, blocks)
    t, trials = matrix.shape
    size = t // blocks
    kept = matrix[t - size * blocks :]
    terms = np.asarray(metric.terms(kept), dtype=np.float64)
    block_sums = terms.reshape(len(terms), blocks, size, trials).sum(axis=2)  # K x S x N
    return _cscv(block_sums, metric)


def pbo_of_block_sums(block_sums: np.ndarray, metric: SummedMetric = SHARPE) -> Overfitting:
    """Return the PBO from per-block sums of ``metric``'s terms, shape K x S x N.

    For trials whose per-block sums were accumulated elsewhere (a sweep's kernel sums each set's
    terms per block while it simulates): ``block_sums[k, s, n]`` is the sum of term ``k`` of
    trial ``n`` over the rows of block ``s``. For ``SHARPE`` the terms are ``1, r, d, d^2`` with
    ``d = r - c`` for any constant ``c`` per trial, so ``c = 0`` (sums of ``r`` and ``r^2``)
    serves as well when the mean is small next to the spread. A trial whose metric is undefined
    over some blocks (too few rows there, or constant returns) ranks below every other there.
    """
    sums = np.asarray(block_sums, dtype=np.float64)
    if sums.ndim != 3:
        raise ValueError("block_sums must be K x S x N: terms, blocks, trials")
    k, blocks, trials = sums.shape
    if trials < 2:
        raise ValueError(f"PBO compares trials: pass at least 2, got {trials}")
    if blocks < 2 or blocks % 2 or math.comb(blocks, blocks // 2) > MAX_COMBINATIONS:
        raise ValueError(f"blocks must be an even number from 2 to 18, got {blocks}")
    if not np.all(np.isfinite(sums)):
        raise ValueError("block_sums has NaN or infinite values")
    with np.errstate(divide="ignore", invalid="ignore"):  # blocks with < 2 rows give NaN
        return _cscv(sums, metric)


def _cscv(block_sums: np.ndarray, metric: SummedMetric) -> Overfitting:
    _, blocks, trials = block_sums.shape
    in_sample = _in_sample_choices(blocks)
    n = len(in_sample)
    step = max(1, _CHUNK_VALUES // (len(block_sums) * trials))
    rank, is_best, oos_best = np.empty(n), np.empty(n), np.empty(n)
    for lo in range(0, n, step):
        chosen = in_sample[lo : lo + step]
        is_perf = _performance(chosen, block_sums, metric)
        oos_perf = _performance(~chosen, block_sums, metric)
        rank[lo : lo + step], is_best[lo : lo + step], oos_best[lo : lo + step] = _winner_rank(
            is_perf, oos_perf
        )
    w = rank / (trials + 1)
    logits = np.log(w / (1 - w))
    return Overfitting(
        pbo=float(np.mean(logits <= 0)),
        blocks=blocks,
        logits=logits,
        combinations=n,
        in_sample_best=is_best,
        out_of_sample=oos_best,
    )


def _validated(performance: np.ndarray, blocks: int) -> np.ndarray:
    matrix = np.asarray(performance, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(
            "performance must be a T x N matrix: one row per observation, one column per trial"
        )
    t, n = matrix.shape
    if n < 2:
        raise ValueError(f"PBO compares trials: pass at least 2 columns, got {n}")
    if blocks < 2 or blocks % 2:
        raise ValueError(f"blocks must be an even number >= 2 (16 is usual), got {blocks}")
    if 2 * blocks > t:
        raise ValueError(
            f"{t} rows are too few for {blocks} blocks: each block needs at least 2 rows; "
            "use fewer blocks or more rows"
        )
    if math.comb(blocks, blocks // 2) > MAX_COMBINATIONS:
        raise ValueError(
            f"blocks={blocks} gives {math.comb(blocks, blocks // 2):,} combinations, more than "
            f"{MAX_COMBINATIONS:,}: use at most 18 blocks"
        )
    if not np.all(np.isfinite(matrix)):
        raise ValueError(
            "performance has NaN or infinite values: use 0 for bars without a position"
        )
    return matrix


def _in_sample_choices(blocks: int) -> np.ndarray:
    """Every choice of blocks/2 of the blocks as in-sample, one boolean row per choice."""
    chosen = np.zeros((math.comb(blocks, blocks // 2), blocks), dtype=bool)
    for row, picked in zip(chosen, combinations(range(blocks), blocks // 2), strict=True):
        row[list(picked)] = True
    return chosen


def _performance(chosen: np.ndarray, block_sums: np.ndarray, metric: SummedMetric) -> np.ndarray:
    """The metric of each trial over the chosen blocks, one row per choice."""
    sums = np.tensordot(chosen.astype(np.float64), block_sums, axes=([1], [1]))  # C x K x N
    perf = np.asarray(metric.value(sums), dtype=np.float64)
    if perf.shape != (len(chosen), block_sums.shape[2]):
        raise ValueError(
            f"the metric's value returned shape {perf.shape}; it must map sums of shape "
            f"(..., K, trials) to (..., trials), here {(len(chosen), block_sums.shape[2])}"
        )
    return perf


def _winner_rank(is_perf: np.ndarray, oos_perf: np.ndarray) -> tuple[np.ndarray, ...]:
    """The in-sample winner's out-of-sample rank (1 = worst, ties averaged) and its two scores."""
    ranked_is = np.where(np.isnan(is_perf), -np.inf, is_perf)
    ranked_oos = np.where(np.isnan(oos_perf), -np.inf, oos_perf)
    best = np.argmax(ranked_is, axis=1)
    rows = np.arange(len(best))
    mark = ranked_oos[rows, best][:, None]
    below = np.count_nonzero(ranked_oos < mark, axis=1)
    tied = np.count_nonzero(ranked_oos == mark, axis=1)  # the winner itself included
    rank = below + (tied + 1) / 2
    return rank, is_perf[rows, best], oos_perf[rows, best]
