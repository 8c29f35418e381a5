"""Beta, alpha, tracking error and information ratio on series whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.research.relative import align, relative

BARS = 252


def _prices(returns: np.ndarray, start: float = 100.0) -> np.ndarray:
    return start * np.concatenate([[1.0], np.cumprod(1 + returns)])


@pytest.fixture
def benchmark_returns() -> np.ndarray:
    return np.random.default_rng(4).normal(0.0004, 0.01, 500)


def test_twice_the_benchmark_has_beta_2_and_no_alpha(benchmark_returns):
    r = relative(_prices(2 * benchmark_returns, 1e4), _prices(benchmark_returns), BARS)
    assert r.beta == pytest.approx(2.0, rel=1e-9)
    assert r.alpha == pytest.approx(0.0, abs=1e-12)
    # the active return is the benchmark's own return
    assert r.tracking_error == pytest.approx(np.std(benchmark_returns, ddof=1) * math.sqrt(BARS))


def test_the_benchmark_itself_has_beta_1_and_no_information_ratio(benchmark_returns):
    prices = _prices(benchmark_returns)
    r = relative(prices * 3, prices, BARS)
    assert r.beta == pytest.approx(1.0)
    assert r.alpha == pytest.approx(0.0, abs=1e-12)
    assert r.tracking_error == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(r.information_ratio)


def test_a_constant_active_return_is_all_alpha(benchmark_returns):
    c = 0.0002
    r = relative(_prices(benchmark_returns + c), _prices(benchmark_returns), BARS)
    assert r.beta == pytest.approx(1.0)
    assert r.alpha == pytest.approx(c * BARS)
    assert r.tracking_error == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(r.information_ratio)  # no tracking error to divide by


def test_information_ratio_is_annualized_mean_over_annualized_deviation(benchmark_returns):
    m, d = 0.0003, 0.001
    active = np.where(np.arange(500) % 2 == 0, m + d, m - d)
    r = relative(_prices(benchmark_returns + active), _prices(benchmark_returns), BARS)
    te = d * math.sqrt(500 / 499) * math.sqrt(BARS)  # sample deviation of +-d
    assert r.tracking_error == pytest.approx(te)
    assert r.information_ratio == pytest.approx(m * BARS / te)


def test_a_flat_benchmark_has_no_beta():
    r = relative(np.array([100.0, 101.0, 99.0, 102.0]), np.full(4, 50.0), BARS)
    assert math.isnan(r.beta) and math.isnan(r.alpha)


@pytest.mark.parametrize(
    ("equity", "benchmark", "bars", "message"),
    [
        (np.ones(5), np.ones(6), BARS, "same times"),
        (np.ones(2), np.ones(2), BARS, "at least 3 bars"),
        (np.array([1.0, 0.0, 1.0]), np.ones(3), BARS, "positive and finite"),
        (np.ones(3), np.ones(3), 0, "bars_per_year must be positive"),
    ],
)
def test_bad_input_says_what_to_fix(equity, benchmark, bars, message):
    with pytest.raises(ValueError, match=message):
        relative(equity, benchmark, bars)


def test_align_keeps_the_times_both_series_have():
    time, a, b = align(
        np.array([1, 2, 3, 5]),
        np.array([10.0, 20, 30, 50]),
        np.array([2, 3, 4, 5]),
        np.array([0.2, 0.3, 0.4, 0.5]),
    )
    np.testing.assert_array_equal(time, [2, 3, 5])
    np.testing.assert_array_equal(a, [20.0, 30, 50])
    np.testing.assert_array_equal(b, [0.2, 0.3, 0.5])
