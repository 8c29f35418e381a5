"""Calendar-period returns of an equity curve: each month's and each year's, in percent.

A month's return runs from the last equity of the month before (or the curve's first point, for
the first month, which may be partial) to the month's last equity, so the months of a year
compound to the year's return, and the year's to the total return. Months are UTC calendar months.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class YearReturns:
    year: int
    months: tuple[float | None, ...]  # 12 values, January first; None: no data or undefined
    total: float | None


def monthly_returns(time_ns: np.ndarray, equity: np.ndarray) -> list[YearReturns]:
    """Return each year's monthly and total returns in percent, oldest year first.

    ``time_ns`` are increasing UTC times in nanoseconds, ``equity`` the equity at each. Points
    whose equity is not finite are skipped; a return from an equity of 0 or less (after a
    bankruptcy) is undefined (None). A curve of fewer than two usable points has no returns.
    """
    time_ns = np.asarray(time_ns, dtype=np.int64)
    equity = np.asarray(equity, dtype=np.float64)
    if time_ns.shape != equity.shape or time_ns.ndim != 1:
        raise ValueError(f"time and equity must be 1-d arrays of one length, got shapes "
                         f"{time_ns.shape} and {equity.shape}")
    keep = np.isfinite(equity)
    time_ns, equity = time_ns[keep], equity[keep]
    if len(equity) < 2:
        return []
    months = time_ns.astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)
    last = np.flatnonzero(np.append(months[1:] != months[:-1], True))  # each month's last point
    ends = equity[last]
    starts = np.concatenate(([equity[0]], ends[:-1]))
    month_ids = months[last]  # months since 1970-01

    by_year: dict[int, dict[int, float | None]] = {}
    year_start: dict[int, float] = {}
    year_end: dict[int, float] = {}
    for month_id, start, end in zip(month_ids.tolist(), starts.tolist(), ends.tolist(),
                                    strict=True):
        year, month = 1970 + month_id // 12, month_id % 12
        by_year.setdefault(year, {})[month] = _change(start, end)
        year_start.setdefault(year, start)
        year_end[year] = end
    return [
        YearReturns(year, tuple(by_year[year].get(m) for m in range(12)),
                    _change(year_start[year], year_end[year]))
        for year in sorted(by_year)
    ]


def _change(start: float, end: float) -> float | None:
    if start <= 0:
        return None
    return (end / start - 1.0) * 100.0
