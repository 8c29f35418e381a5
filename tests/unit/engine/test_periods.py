"""Monthly and yearly returns of an equity curve (the result page's heatmap)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.periods import monthly_returns


def _t(*isos: str) -> np.ndarray:
    return np.array(isos, dtype="datetime64[ns]").astype(np.int64)


def test_months_run_from_the_last_equity_of_the_month_before():
    time = _t("2024-01-01", "2024-01-31T23:00", "2024-02-01", "2024-02-29T23:59", "2024-03-01")
    years = monthly_returns(time, np.array([100.0, 110.0, 99.0, 121.0, 121.0]))
    assert len(years) == 1 and years[0].year == 2024
    jan, feb, mar = years[0].months[:3]
    assert jan == pytest.approx(10.0)  # 100 → 110
    assert feb == pytest.approx(10.0)  # 110 (end of January) → 121, not 99 → 121
    assert mar == pytest.approx(0.0)
    assert years[0].months[3:] == (None,) * 9
    assert years[0].total == pytest.approx(21.0)


def test_partial_first_and_last_months_and_a_year_boundary():
    time = _t("2023-12-15", "2023-12-31", "2024-01-10", "2024-02-03")
    years = monthly_returns(time, np.array([200.0, 220.0, 198.0, 217.8]))
    assert [y.year for y in years] == [2023, 2024]
    assert years[0].months[11] == pytest.approx(10.0)  # from the curve's first point
    assert years[0].months[:11] == (None,) * 11
    assert years[1].months[0] == pytest.approx(-10.0)
    assert years[1].months[1] == pytest.approx(10.0)
    assert years[1].total == pytest.approx(-1.0)  # 220 → 217.8
    # The years compound to the whole curve's return.
    whole = (1 + years[0].total / 100) * (1 + years[1].total / 100) - 1
    assert whole * 100 == pytest.approx((217.8 / 200 - 1) * 100)


def test_a_curve_within_one_month():
    years = monthly_returns(_t("2024-05-02", "2024-05-03", "2024-05-20"),
                            np.array([50.0, 60.0, 45.0]))
    assert len(years) == 1 and years[0].months[4] == pytest.approx(-10.0)
    assert years[0].total == pytest.approx(-10.0)
    assert sum(m is not None for m in years[0].months) == 1


@pytest.mark.parametrize("n", [0, 1])
def test_an_empty_or_one_point_curve_has_no_returns(n):
    assert monthly_returns(_t(*["2024-01-01"] * n), np.full(n, 100.0)) == []


def test_non_finite_points_are_skipped_and_a_return_from_zero_is_undefined():
    time = _t("2024-01-01", "2024-01-15", "2024-02-01", "2024-03-01")
    years = monthly_returns(time, np.array([100.0, np.nan, 0.0, 0.0]))
    # January's one usable point is its start and end; February falls to 0; March is from 0.
    assert years[0].months[:3] == (0.0, pytest.approx(-100.0), None)
    assert years[0].total == pytest.approx(-100.0)


def test_mismatched_lengths_are_refused_with_the_shapes():
    with pytest.raises(ValueError, match=r"\(2,\) and \(3,\)"):
        monthly_returns(_t("2024-01-01", "2024-01-02"), np.ones(3))
