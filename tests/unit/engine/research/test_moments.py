"""Per-observation Sharpe ratio, skewness and kurtosis."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.research import moments


def test_sharpe_is_mean_over_sample_standard_deviation():
    x = np.array([0.01, -0.02, 0.03, 0.0])
    assert moments.sharpe(x) == pytest.approx(x.mean() / x.std(ddof=1))


def test_sharpe_of_constant_returns_is_undefined_even_with_rounding_residue():
    assert math.isnan(moments.sharpe(np.full(1000, 0.001)))
    assert math.isnan(moments.sharpe(np.zeros(10)))


def test_sharpe_along_an_axis():
    x = np.random.default_rng(0).normal(size=(50, 3))
    np.testing.assert_allclose(moments.sharpe(x, axis=0), x.mean(0) / x.std(0, ddof=1))


def test_skewness_and_kurtosis_of_a_two_point_series():
    # +1 and -1 equally often: symmetric, and as thin-tailed as a distribution can be
    x = np.array([1.0, -1.0] * 10)
    assert moments.skewness(x) == 0.0
    assert moments.kurtosis(x) == 1.0


def test_normal_returns_have_skew_near_0_and_kurtosis_near_3():
    x = np.random.default_rng(1).normal(size=200_000)
    assert moments.skewness(x) == pytest.approx(0.0, abs=0.02)
    assert moments.kurtosis(x) == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize("x", [np.array([0.1]), np.full(5, 0.2)])
def test_moments_of_too_few_or_constant_returns_are_refused(x):
    with pytest.raises(ValueError):
        moments.skewness(x)


def test_sharpe_of_one_return_is_refused():
    with pytest.raises(ValueError, match="at least 2 returns"):
        moments.sharpe(np.array([0.1]))
