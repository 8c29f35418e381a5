"""The Deflated Sharpe Ratio against the paper's numerical example, its edge cases and its shape."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.research import moments
from engine.research.deflated_sharpe import (
    deflated_sharpe,
    deflated_sharpe_of,
    expected_max_sharpe,
    probabilistic_sharpe,
)

# Bailey and Lopez de Prado (2014), "A numerical example": daily returns, 250 a year, over
# T = 1250 observations; the best of N = 100 trials has an annualized Sharpe ratio of 2.5, the
# trials' annualized Sharpe ratios have variance 1/2; skewness -3, kurtosis 10. The paper
# reports SR0 ~ 0.1132 per observation and DSR ~ 0.9004, rejecting the discovery at 95 %.
DAYS = 250
PAPER = {
    "sharpe": 2.5 / math.sqrt(DAYS),
    "observations": 1250,
    "skew": -3.0,
    "kurtosis": 10.0,
    "n_trials": 100,
    "sharpe_variance": 0.5 / DAYS,
}


def test_the_papers_numerical_example():
    result = deflated_sharpe(**PAPER)
    assert result.expected_max_sharpe == pytest.approx(0.1132, abs=5e-5)
    assert result.expected_max_sharpe * math.sqrt(DAYS) == pytest.approx(1.7894, abs=5e-5)
    assert result.dsr == pytest.approx(0.9004, abs=5e-5)
    assert result.dsr < 0.95


def test_fewer_trials_in_the_papers_example_clear_95_percent():
    # With N = 46 trials the same best run has a DSR of 0.9505 (a figure quoted from the paper).
    result = deflated_sharpe(**{**PAPER, "n_trials": 46})
    assert result.dsr == pytest.approx(0.9505, abs=5e-5)


def test_one_trial_selects_nothing_so_the_dsr_is_the_psr_against_zero():
    result = deflated_sharpe(**{**PAPER, "n_trials": 1})
    assert result.expected_max_sharpe == 0.0
    assert result.dsr == probabilistic_sharpe(PAPER["sharpe"], 0.0, 1250, -3.0, 10.0)


def test_trials_that_all_have_the_same_sharpe_ratio_inflate_nothing():
    assert expected_max_sharpe(100, 0.0) == 0.0


def test_the_psr_of_normal_returns_at_the_benchmark_is_one_half():
    assert probabilistic_sharpe(0.1, 0.1, 500, 0.0, 3.0) == pytest.approx(0.5)


def test_the_psr_of_normal_returns_is_the_textbook_z_score():
    sr, t = 0.08, 1000
    z = sr * math.sqrt(t - 1) / math.sqrt(1 + sr**2 / 2)
    assert probabilistic_sharpe(sr, 0.0, t, 0.0, 3.0) == pytest.approx(NormalDist().cdf(z))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"observations": 1}, "at least 2 observations"),
        ({"n_trials": 0.5}, "n_trials must be at least 1"),
        ({"sharpe_variance": -0.1}, "sharpe_variance must be finite"),
        ({"sharpe_variance": math.inf}, "sharpe_variance must be finite"),
        ({"skew": 0.0, "kurtosis": 0.5}, "non-excess kurtosis"),
    ],
)
def test_bad_input_says_what_to_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        deflated_sharpe(**{**PAPER, **kwargs})


@given(
    n=st.integers(1, 10_000),
    more=st.integers(1, 10_000),
    variance=st.floats(1e-6, 1.0),
)
def test_more_trials_raise_the_bar(n, more, variance):
    assert expected_max_sharpe(n + more, variance) >= expected_max_sharpe(n, variance)


@given(
    sharpe=st.floats(-0.5, 0.5),
    benchmark=st.floats(-0.5, 0.5),
    observations=st.integers(2, 100_000),
    skew=st.floats(-3, 3),
    excess=st.floats(0, 20),
)
def test_the_psr_is_a_probability(sharpe, benchmark, observations, skew, excess):
    psr = probabilistic_sharpe(sharpe, benchmark, observations, skew, 1 + skew**2 + excess)
    assert 0.0 <= psr <= 1.0


def test_from_returns_uses_the_best_runs_moments_and_the_trials_count_and_variance():
    rng = np.random.default_rng(7)
    best = rng.normal(0.001, 0.01, 750)
    trials = rng.normal(0.0, 0.03, 40)
    result = deflated_sharpe_of(best, trials)
    expected = deflated_sharpe(
        float(moments.sharpe(best)),
        750,
        moments.skewness(best),
        moments.kurtosis(best),
        40,
        float(np.var(trials, ddof=1)),
    )
    assert result == expected


def test_from_returns_with_one_trial_needs_no_variance():
    best = np.random.default_rng(3).normal(0.001, 0.01, 100)
    assert deflated_sharpe_of(best, np.array([0.1])).expected_max_sharpe == 0.0


def test_from_constant_returns_is_refused():
    with pytest.raises(ValueError, match="constant"):
        deflated_sharpe_of(np.full(50, 0.001), np.array([0.1, 0.2]))
