"""The Deflated Sharpe Ratio (Bailey and Lopez de Prado, 2014).

The best Sharpe ratio of N trials is inflated by the selection: even if every trial has no edge,
the maximum of N noisy Sharpe ratios is positive. The DSR is the probability that the best
trial's true Sharpe ratio exceeds the maximum expected from N trials without an edge, allowing for
a short sample and for skewed, fat-tailed returns.

Every Sharpe ratio here is per observation, not annualized: mean / standard deviation of the
returns of one bar (or trade), and the variance of the trials' Sharpe ratios in the same units.
An annualized Sharpe ratio ``SR_a`` over ``k`` observations a year is ``SR_a / sqrt(k)`` per
observation and its variance ``V_a / k``. Formulas: docs/semantics.md, "Research statistics".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from engine.research import moments

EULER_MASCHERONI = 0.5772156649015329
_NORMAL = NormalDist()


@dataclass(frozen=True)
class DeflatedSharpe:
    """The DSR of a best trial and the per-observation Sharpe ratio it was measured against."""

    sharpe: float  # the best trial's per-observation Sharpe ratio
    expected_max_sharpe: float  # SR0: the best of N trials expected without an edge
    dsr: float  # PSR(SR0), a probability


def expected_max_sharpe(n_trials: float, sharpe_variance: float) -> float:
    """Return the expected maximum Sharpe ratio of ``n_trials`` trials whose true Sharpe is 0.

    ``n_trials`` may be fractional (an effective number of independent trials); one trial
    selects nothing, so its expected maximum is 0.
    """
    if not n_trials >= 1:
        raise ValueError(f"n_trials must be at least 1, got {n_trials}")
    if not sharpe_variance >= 0 or math.isinf(sharpe_variance):
        raise ValueError(f"sharpe_variance must be finite and >= 0, got {sharpe_variance}")
    if n_trials == 1:
        return 0.0
    inv = _NORMAL.inv_cdf
    g = EULER_MASCHERONI
    max_z = (1 - g) * inv(1 - 1 / n_trials) + g * inv(1 - 1 / (n_trials * math.e))
    return math.sqrt(sharpe_variance) * max_z


def probabilistic_sharpe(
    sharpe: float, benchmark: float, observations: int, skew: float, kurtosis: float
) -> float:
    """Return the probability that the true Sharpe ratio exceeds ``benchmark`` (the PSR).

    ``kurtosis`` is not excess: 3 for normal returns.
    """
    if observations < 2:
        raise ValueError(f"the PSR needs at least 2 observations, got {observations}")
    # Any sample has kurtosis >= 1 + skew^2, which keeps the variance term below >= 0.
    if kurtosis < 1 + skew**2 - 1e-9:
        raise ValueError(
            f"kurtosis {kurtosis} is impossible with skew {skew} (it is at least 1 + skew^2); "
            "pass the non-excess kurtosis (3 for normal returns)"
        )
    diff = sharpe - benchmark
    var = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if var <= 0:  # only on the boundary kurtosis == 1 + skew^2: the estimate has no spread
        return 1.0 if diff > 0 else (0.5 if diff == 0 else 0.0)
    return _NORMAL.cdf(diff * math.sqrt(observations - 1) / math.sqrt(var))


def deflated_sharpe(
    sharpe: float,
    observations: int,
    skew: float,
    kurtosis: float,
    n_trials: float,
    sharpe_variance: float,
) -> DeflatedSharpe:
    """Deflate the best trial's per-observation Sharpe ratio by the number of trials tried."""
    sr0 = expected_max_sharpe(n_trials, sharpe_variance)
    dsr = probabilistic_sharpe(sharpe, sr0, observations, skew, kurtosis)
    return DeflatedSharpe(sharpe=sharpe, expected_max_sharpe=sr0, dsr=dsr)


def deflated_sharpe_of(best_returns: np.ndarray, trial_sharpes: np.ndarray) -> DeflatedSharpe:
    """Deflate the best trial from its per-bar returns and every trial's per-bar Sharpe ratio.

    ``trial_sharpes`` holds one per-observation Sharpe ratio per trial tried, the best included;
    their count is N and their sample variance V.
    """
    best = np.asarray(best_returns, dtype=np.float64)
    trials = np.asarray(trial_sharpes, dtype=np.float64)
    if trials.ndim != 1 or len(trials) == 0 or not np.all(np.isfinite(trials)):
        raise ValueError("trial_sharpes must be a non-empty 1-D array of finite Sharpe ratios")
    sr = float(moments.sharpe(best))
    if math.isnan(sr):
        raise ValueError("the best trial's returns are constant: its Sharpe ratio is undefined")
    variance = float(trials.var(ddof=1)) if len(trials) > 1 else 0.0
    return deflated_sharpe(
        sr, len(best), moments.skewness(best), moments.kurtosis(best), len(trials), variance
    )
