"""PBO by CSCV: the vectorised version against a slow reference, and cases with a known answer."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from engine.research.pbo import SHARPE, SummedMetric, pbo
from tests.unit.engine.research import pbo_reference

MEAN = SummedMetric(
    terms=lambda r: np.stack([np.ones_like(r), r]),
    value=lambda sums: sums[..., 1, :] / sums[..., 0, :],
)


@pytest.mark.parametrize("seed", range(8))
def test_agrees_with_the_slow_reference_on_random_matrices(seed):
    rng = np.random.default_rng(seed)
    t, n = int(rng.integers(24, 90)), int(rng.integers(2, 9))
    blocks = int(rng.choice([2, 4, 6, 8]))
    matrix = rng.normal(0.0005 * rng.normal(size=n), 0.01, size=(t, n))
    fast = pbo(matrix, blocks)
    slow = pbo_reference.pbo(matrix, blocks)
    assert fast.pbo == slow["pbo"]
    assert fast.combinations == math.comb(blocks, blocks // 2)
    np.testing.assert_allclose(fast.logits, slow["logits"], rtol=1e-12)
    np.testing.assert_allclose(fast.in_sample_best, slow["in_sample_best"], rtol=1e-9)
    np.testing.assert_allclose(fast.out_of_sample, slow["out_of_sample"], rtol=1e-9)


def test_agrees_with_the_slow_reference_for_another_metric():
    matrix = np.random.default_rng(11).normal(0.0, 0.01, size=(60, 5))
    fast = pbo(matrix, 6, metric=MEAN)
    slow = pbo_reference.pbo(matrix, 6, metric=statistics.mean)
    assert fast.pbo == slow["pbo"]
    np.testing.assert_allclose(fast.logits, slow["logits"], rtol=1e-12)
    np.testing.assert_allclose(fast.out_of_sample, slow["out_of_sample"], rtol=1e-9)


def test_pure_noise_is_overfit_about_half_the_time():
    # No trial has an edge, so the in-sample winner is a random trial out-of-sample.
    results = [
        pbo(np.random.default_rng(seed).normal(0.0, 0.01, size=(1600, 50))).pbo for seed in range(4)
    ]
    assert 0.3 <= statistics.mean(results) <= 0.8


def test_one_planted_edge_is_not_overfit():
    rng = np.random.default_rng(5)
    matrix = rng.normal(0.0, 0.01, size=(1600, 50))
    matrix[:, 17] += 0.005  # a drift of half a standard deviation a bar
    result = pbo(matrix)
    assert result.pbo < 0.1
    assert result.combinations == 12_870
    assert np.all(result.out_of_sample > 0)


def test_a_trial_that_never_trades_ranks_below_every_other():
    matrix = np.zeros((40, 2))
    matrix[:, 1] = np.random.default_rng(2).normal(0.0, 0.01, 40)
    result = pbo(matrix, 4)
    # the other trial always wins in-sample and ranks 2 of 2 out-of-sample: w = 2/3
    np.testing.assert_allclose(result.logits, math.log(2))
    assert result.pbo == 0.0


def test_the_sharpe_metric_of_constant_rows_is_undefined():
    sums = SHARPE.terms(np.full((10, 2), 0.001)).sum(axis=1)
    assert np.all(np.isnan(SHARPE.value(sums)))


@pytest.mark.parametrize(
    ("shape", "blocks", "message"),
    [
        ((100, 4), 5, "even number"),
        ((100, 4), 0, "even number"),
        ((10, 4), 16, "too few for 16 blocks"),
        ((100, 1), 4, "at least 2 columns"),
        ((100,), 4, "T x N matrix"),
        ((400, 3), 20, "at most 18 blocks"),
    ],
)
def test_bad_input_says_what_to_fix(shape, blocks, message):
    with pytest.raises(ValueError, match=message):
        pbo(np.zeros(shape), blocks)


def test_nan_in_the_matrix_is_refused():
    matrix = np.zeros((40, 3))
    matrix[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pbo(matrix, 4)


def test_a_metric_that_keeps_the_wrong_axis_is_refused():
    wrong = SummedMetric(terms=lambda r: r[None], value=lambda sums: sums[..., 0, 0])
    with pytest.raises(ValueError, match="must map sums"):
        pbo(np.random.default_rng(0).normal(size=(40, 3)), 4, metric=wrong)
